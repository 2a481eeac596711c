"""A model's architecture and rate weights: checked once, stored as JSON with every file and checkpoint."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError

KINDS = ("factorized", "hyperprior")
#: CompressAI's MSE rate weights λ of qualities 1–8 (loss λ·255²·MSE + bits per pixel).
COMPRESSAI_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)
MAX_CHANNELS = 1024
MAX_RATES = 16


def check_lams(lam: Any) -> tuple[float, ...]:
    """λ as a sorted tuple: one positive number, or a list of them (a variable-rate model, one gain per λ)."""
    values = lam if isinstance(lam, (list, tuple)) else [lam]
    ok = 1 <= len(values) <= MAX_RATES and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values
    )
    if not ok or len(set(values)) != len(values):
        raise InputError(f"lam must be a positive number or a list of 1 to {MAX_RATES} different positive numbers (the rate weights λ), got {lam!r}.")
    return tuple(sorted(float(v) for v in values))


@dataclass(frozen=True)
class ModelConfig:
    """`kind` factorized or hyperprior; N = `channels`, M = `latent_channels`; one rate per λ in `lams` (low to high)."""

    kind: str
    channels: int
    latent_channels: int
    lams: tuple[float, ...]
    mean: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}.")
        check_int(self.channels, 1, MAX_CHANNELS, "channels")
        check_int(self.latent_channels, 1, MAX_CHANNELS, "latent_channels")
        object.__setattr__(self, "lams", check_lams(list(self.lams)))
        if not isinstance(self.mean, bool):
            raise InputError(f"mean must be true or false, got {self.mean!r}.")
        if self.mean and self.kind != "hyperprior":
            raise InputError("mean=true (the mean-scale hyperprior) is an option of the hyperprior codec only; drop it or use hyperprior.")

    @property
    def stride(self) -> int:
        """How much the transforms shrink the image: sizes are padded to a multiple of this."""
        return 16 if self.kind == "factorized" else 64

    @property
    def rates(self) -> int:
        return len(self.lams)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "lams": list(self.lams)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) != {"kind", "channels", "latent_channels", "lams", "mean"}:
            raise InputError(f"a model configuration must hold kind, channels, latent_channels, lams and mean, got {text[:200]!r}.")
        return cls(**data)
