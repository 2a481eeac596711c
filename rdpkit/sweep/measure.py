"""Measuring decoded images: distortions, the perception index, divergences and no-reference critics.

The one evaluation of outputs, used by every sweep trial (a codec's decoded test images) and by
the P-D plane (folders of outputs): each distortion's mean over images with its standard
error, each divergence between real and decoded images with its uncertainty, and each critic's
mean score. The perception index is one of these, named by `EvaluateConfig.perception`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..interfaces import Estimate
from ..options import Component
from ..patches import patches
from ..registry import Registry
from .config import EvaluateConfig


@dataclass(frozen=True)
class Measurement:
    """The mean of a per-image quantity, its standard error (nan for one image) and the number of images."""

    mean: float
    stderr: float
    n: int

    @classmethod
    def of(cls, values: torch.Tensor) -> Measurement:
        v = values.detach().double().cpu().flatten()
        n = v.numel()
        return cls(float(v.mean()), float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else math.nan, n)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Perception:
    """The perception index: which component gave it (a divergence or a critic) and its estimate."""

    name: str
    kind: str  # divergence | critic
    estimate: Estimate

    @property
    def value(self) -> float:
        return self.estimate.value

    @property
    def stderr(self) -> float:
        return self.estimate.stderr

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, **self.estimate.as_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Perception:
        return cls(d["name"], d.get("kind", "divergence"), Estimate.from_dict(d))


@dataclass(frozen=True)
class Measured:
    """Everything `measure_outputs` found, keyed by the component as written (``wasserstein-critic,steps=20``)."""

    distortions: dict[str, Measurement]
    divergences: dict[str, Estimate]
    critics: dict[str, Measurement]
    perception: Perception
    components: dict[str, dict[str, Any]]  # registry records of what measured


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def _divergence(registry: Registry, c: Component, seed: int) -> Any:
    """A fresh divergence estimator, seeded with `seed` unless its options fix one."""
    seed_everything(seed)
    try:
        takes_seed = "seed" in inspect.signature(registry.factory(registry.info("divergence", c.name))).parameters
    except (TypeError, ValueError):  # a factory without an inspectable signature
        takes_seed = False
    options = {**c.options, "seed": seed} if takes_seed and "seed" not in c.options else dict(c.options)
    return registry.create("divergence", c.name, **options)


def measure_outputs(x: torch.Tensor, x_hat: torch.Tensor, real: torch.Tensor, evaluate: EvaluateConfig, *,
                    seed: int, registry: Registry) -> Measured:
    """Measure decoded images `x_hat` against their originals `x`, and their distribution against `real` images.

    Distortions compare x̂ with x image by image; divergences compare the set x̂ with the set
    `real` (held-out images, or x itself), or their patches when `evaluate.patch` is set; critics
    score x̂ alone. All on x's device.
    """
    dev = x.device
    components: dict[str, dict[str, Any]] = {}
    distortions = {}
    for c in evaluate.distortions:
        metric = registry.create("distortion", c.name, **c.options).to(dev)
        with torch.no_grad():
            distortions[str(c)] = Measurement.of(metric(x, x_hat.to(x.dtype)))
        components[f"distortion:{c}"] = metric.info.as_dict()
    kind = evaluate.perception_kind(registry)
    divergences: dict[str, Estimate] = {}
    real_set, decoded_set = (patches(real, evaluate.patch), patches(x_hat, evaluate.patch)) if evaluate.patch else (real, x_hat)
    for c in ([evaluate.perception] if kind == "divergence" else []) + list(evaluate.divergences):
        div = _divergence(registry, c, seed)  # outside no_grad: a divergence may train a critic
        divergences[str(c)] = div.estimate(real_set, decoded_set, bootstrap=evaluate.bootstrap, seed=seed)
        components[f"divergence:{c}"] = div.info.as_dict()
    critics = {}
    for c in ([evaluate.perception] if kind == "critic" else []) + list(evaluate.critics):
        critic = registry.create("critic", c.name, **c.options).to(dev)
        with torch.no_grad():
            critics[str(c)] = Measurement.of(critic.score(x_hat))
        components[f"critic:{c}"] = critic.info.as_dict()
    name = str(evaluate.perception)
    if kind == "divergence":
        perception = Perception(f"{name} on {evaluate.patch}×{evaluate.patch} patches" if evaluate.patch else name, kind, divergences[name])
    else:
        m = critics[name]
        perception = Perception(name, kind, Estimate(m.mean, m.stderr, m.n, "mean critic score"))
    return Measured(distortions, divergences, critics, perception, components)
