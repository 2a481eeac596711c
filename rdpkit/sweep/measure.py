"""The sweep's ``[evaluate]`` table as the measurement layer's `Measures`, and its perception index.

Used by every sweep trial (a codec's decoded test images) and by the P-D plane (folders of
outputs). The measuring itself is rdpkit.measures'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..measures import Measured, Measures, Perception
from ..registry import Registry

if TYPE_CHECKING:  # the sweep's configuration checks its [evaluate] table through `measures`
    from .config import EvaluateConfig


def measures(evaluate: EvaluateConfig, registry: Registry) -> Measures:
    """What a sweep measures: its distortions, its critics and divergences, the perception index among them."""
    index = [evaluate.perception]
    kind = evaluate.perception_kind(registry)
    return Measures(distortions=evaluate.distortions, critics=tuple(index if kind == "critic" else []) + evaluate.critics,
                    divergences=tuple(index if kind == "divergence" else []) + evaluate.divergences,
                    patch=evaluate.patch, bootstrap=evaluate.bootstrap)


def measure_outputs(x: torch.Tensor, x_hat: torch.Tensor, real: torch.Tensor, evaluate: EvaluateConfig, *,
                    seed: int, registry: Registry) -> tuple[Measured, Perception]:
    """Decoded images `x_hat` against their originals `x`, and their distribution against `real` images (on x's device)."""
    meter = measures(evaluate, registry).meter(registry, x.device, seed=seed)
    meter.update(x, x_hat)
    measured = meter.compute(real)
    return measured, measured.perception(evaluate.perception, evaluate.perception_kind(registry))
