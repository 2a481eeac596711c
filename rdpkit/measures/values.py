"""The values the measurement layer returns: a per-image column with its direction and range, the
mean of a per-image quantity, and the perception index of a harness."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..interfaces import Estimate

#: Per-image columns whose kind is one of these are measured on each image; the others are set quantities.
PER_IMAGE = ("psnr", "distortion", "critic")


@dataclass(frozen=True)
class Column:
    """One measured quantity: its column name, what measured it, which way is better and its range.

    `kind` is ``psnr``, ``distortion`` or ``critic`` (one value per image) or ``divergence``,
    ``fid`` or ``kid`` (one value for the set); `component` is the component as written
    (``niqe,patch=32``), empty for PSNR.
    """

    key: str
    kind: str
    component: str = ""
    higher_is_better: bool = False
    bounds: tuple[float, float] = (0.0, math.inf)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "component": self.component, "higher_is_better": self.higher_is_better,
                "bounds": [_json_float(b) for b in self.bounds]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Column:
        low, high = d.get("bounds", (0.0, math.inf))
        return cls(d["key"], d["kind"], d.get("component", ""), bool(d.get("higher_is_better", False)), (float(low), float(high)))


def _json_float(x: float) -> float | str:
    """JSON has no infinity: bounds are written as text there (float() reads them back)."""
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclass(frozen=True)
class Measurement:
    """The mean of a per-image quantity, its standard error (nan for one image) and the number of images."""

    mean: float
    stderr: float
    n: int

    @classmethod
    def of(cls, values: torch.Tensor | list[float] | tuple[float, ...]) -> Measurement:
        v = torch.as_tensor(values).detach().double().cpu().flatten()
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
