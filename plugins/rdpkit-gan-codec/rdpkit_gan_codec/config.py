"""The options of the gan codec, checked once, and their JSON form stored with every model."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError

ARCHITECTURES = ("auto", "mlp", "conv")


def _check_number(value: float, name: str, *, positive: bool = False, below: float | None = None) -> float:
    """`value` as a float if it is a finite number ≥ 0 (> 0 when `positive`, < `below` when given)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > 0 if positive else value >= 0) and (below is None or value < below)
    if not ok:
        need = "a positive number" if positive else f"a number from 0 up to (not including) {below}" if below is not None else "a number ≥ 0"
        raise InputError(f"{name} must be {need}, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class GanConfig:
    """Everything that defines a gan codec except its trained weights.

    dim, levels: the latent has `dim` entries, each quantised to `levels` values in [−1, 1],
        so the rate is at most dim·log2(levels) bits per image.
    lam: λ, the weight of the Wasserstein term (0: distortion only, Shannon's curve).
    distortion: any differentiable distortion registered with rdpkit (mse, ssim, ...).
    noise: α, the width of the decoder's uniform noise as a fraction of the quantisation bin
        (0: deterministic decoder; below 1, so code words never mix).
    arch: encoder/decoder networks: "mlp", "conv" (images of at least 16×16), or "auto".
    hidden: width of the encoder/decoder hidden layers (conv: channels of the first layer).
    critic_hidden, critic_steps, gp_weight: the WGAN-GP critic's width, its updates per
        generator update, and its gradient-penalty weight.
    lr: Adam's learning rate for both players.
    sigma: softness of the soft-to-hard relaxation, in inverse squared bins (larger: harder).
    """

    dim: int = 2
    levels: int = 4
    lam: float = 0.0
    distortion: str = "mse"
    noise: float = 0.5
    arch: str = "auto"
    hidden: int = 128
    critic_hidden: int = 128
    critic_steps: int = 5
    gp_weight: float = 10.0
    lr: float = 2e-3
    sigma: float = 1.0

    def __post_init__(self) -> None:
        check_int(self.dim, 1, 4096, "dim")
        check_int(self.levels, 2, 4096, "levels")
        check_int(self.hidden, 1, 1 << 16, "hidden")
        check_int(self.critic_hidden, 1, 1 << 16, "critic_hidden")
        check_int(self.critic_steps, 1, 100, "critic_steps")
        object.__setattr__(self, "lam", _check_number(self.lam, "lam (λ)"))
        for name in ("gp_weight", "lr", "sigma"):
            object.__setattr__(self, name, _check_number(getattr(self, name), name, positive=True))
        object.__setattr__(self, "noise", _check_number(self.noise, "noise (α, a fraction of the quantisation bin)", below=1.0))
        if self.arch not in ARCHITECTURES:
            raise InputError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {self.arch!r}.")
        if not isinstance(self.distortion, str) or not self.distortion:
            raise InputError(f"distortion must be the name of a registered distortion (e.g. 'mse'), got {self.distortion!r}.")

    @property
    def nominal_bits(self) -> float:
        """dim·log2(levels): the rate of fixed-length codes, an upper bound on the entropy."""
        return self.dim * math.log2(self.levels)

    @property
    def bin_width(self) -> float:
        return 2.0 / (self.levels - 1)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GanConfig:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"the stored gan configuration has unknown options {', '.join(unknown)}; it was written by a newer rdpkit-gan-codec, upgrade it.")
        return cls(**data)
