"""The hific codec's configuration: its networks and the loss it was trained with, checked once, stored with every file.

Loss (per image, averaged over a batch): λ_r·bits per pixel + λ_d·Δ(x, x̂) + λ_p·(−log D(x̂, ŷ)),
Δ any differentiable registered distortion or a `weighted-sum` of them. With λ_d = λ·255²
and Δ = MSE this is the hyperprior's own loss (λ·255²·MSE + bpp), so a hific codec started
from a hyperprior trained at λ continues that trade-off and λ_p adds the adversarial term.
λ_r is 1, or, with a rate target, whatever keeps the rate at the target.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError
from rdpkit.options import Component, format_value

from ..weighted_sum import NAME as WEIGHTED_SUM
from ..weighted_sum import parse_terms
from .config import MAX_CHANNELS, ModelConfig

KIND = "hific"
SYNTHESES = ("gdn", "hific")
#: The discriminator's detail inputs (networks/discriminator.py); files written before the option existed used the first.
DISCRIMINATOR_INPUTS = ("high-pass", "band-pass")
#: λ·255² for CompressAI's quality-3 λ = 0.0067: the distortion weight of a codec trained from scratch.
DEFAULT_LAM_D = 0.0067 * 255**2


def _number(value: Any, name: str, *, low: float, high: float = math.inf, open_low: bool = False, open_high: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    if not ok:
        lo, hi = ("(" if open_low else "[") + f"{low:g}", f"{high:g}" + (")" if open_high else "]")
        raise InputError(f"{name} must be a number in {lo}, {hi}, got {value!r}.")
    return float(value)


def distortion_component(distortion: Any) -> str:
    """The training distortion as one component string: a registered distortion, or a weighted-sum of several.

    Takes a component (``"mse"``, ``"lpips-alex,pretrained=false"``) or a list of
    ``[component, weight]`` pairs, which becomes ``weighted-sum,terms=[...]``.
    """
    if isinstance(distortion, (list, tuple)):
        terms = parse_terms(distortion)
        if len(terms) == 1 and terms[0][1] == 1.0:
            return str(terms[0][0])
        return str(Component(WEIGHTED_SUM, {"terms": [[str(c), w] for c, w in terms]}))
    c = Component.parse(distortion, what="distortion")
    if c.name.rpartition(":")[2] == WEIGHTED_SUM:
        parse_terms(c.options.get("terms"))
    return distortion.strip()


@dataclass(frozen=True)
class HificConfig:
    """Everything that defines a hific codec but its weights.

    channels, latent_channels, mean: N, M and the mean-scale option of the hyperprior path
        (analysis g_a, hyper-analysis h_a, hyper-synthesis h_s, entropy models).
    synthesis: "gdn", the hyperprior's own synthesis transform (width N), or "hific",
        HiFiC's larger residual generator (networks/generator.py) of width `synthesis_channels`
        with `blocks` residual blocks.
    noise: α, the decoder's noise as a fraction of the quantisation bin: ŷ + α·u, u ~ U(−½, ½)
        drawn from the decode seed (0: a deterministic decoder). Below 1, so code words
        never mix.
    distortion, lam_d, lam_p: the loss (module docstring); lam_p = 0 trains no discriminator.
    target_bpp: r_t, a rate target on the training crops (HiFiC's): the rate term's weight λ_r,
        1 without a target, becomes a Lagrange multiplier that training adjusts (dual ascent
        on log λ_r) until the crops' mean rate is r_t, so codecs trained with different λ_p
        land at the same rate.
    discriminator_channels, discriminator_layers: the patch discriminator's size.
    discriminator_input: the detail it sees beside the image: "band-pass" (blind to the
        synthesis's stride frequencies, 1/4 and 1/2 cycle per pixel) or "high-pass" (the
        first shipped pairs', which rewarded a grid at those frequencies).
    grid_weight: λ_g, the weight of the stride-grid penalty (training/grid.py) relative to
        λ_d: the loss gains λ_d·λ_g·(mean square of the error's part that repeats with period
        4), which makes a grid λ_g times as costly as any other error (0: no penalty).
    """

    channels: int = 64
    latent_channels: int = 96
    mean: bool = False
    synthesis: str = "gdn"
    synthesis_channels: int = 192
    blocks: int = 3
    noise: float = 0.0
    distortion: str = "mse"
    lam_d: float = DEFAULT_LAM_D
    lam_p: float = 0.0
    target_bpp: float | None = None
    discriminator_channels: int = 32
    discriminator_layers: int = 3
    discriminator_input: str = "band-pass"
    grid_weight: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.channels, 1, MAX_CHANNELS, "channels")
        check_int(self.latent_channels, 1, MAX_CHANNELS, "latent_channels")
        check_int(self.synthesis_channels, 1, MAX_CHANNELS, "synthesis_channels")
        check_int(self.blocks, 0, 64, "blocks")
        check_int(self.discriminator_channels, 1, MAX_CHANNELS, "discriminator_channels")
        check_int(self.discriminator_layers, 1, 6, "discriminator_layers")
        if not isinstance(self.mean, bool):
            raise InputError(f"mean must be true or false, got {self.mean!r}.")
        if self.synthesis not in SYNTHESES:
            raise InputError(f"synthesis must be one of {', '.join(SYNTHESES)}, got {self.synthesis!r}.")
        if self.discriminator_input not in DISCRIMINATOR_INPUTS:
            raise InputError(f"discriminator_input must be one of {', '.join(DISCRIMINATOR_INPUTS)}, got {self.discriminator_input!r}.")
        object.__setattr__(self, "noise", _number(self.noise, "noise (α, a fraction of the quantisation bin)", low=0, high=1, open_high=True))
        object.__setattr__(self, "lam_d", _number(self.lam_d, "lam_d (λ_d, the distortion weight)", low=0, open_low=True))
        object.__setattr__(self, "lam_p", _number(self.lam_p, "lam_p (λ_p, the perception weight)", low=0))
        object.__setattr__(self, "grid_weight", _number(self.grid_weight, "grid_weight (λ_g, the weight of the stride-grid penalty)", low=0))
        object.__setattr__(self, "distortion", distortion_component(self.distortion))
        if self.target_bpp is not None:
            object.__setattr__(self, "target_bpp", _number(self.target_bpp, "target_bpp (r_t, bits per pixel)", low=0, high=64, open_low=True))

    def model_config(self) -> ModelConfig:
        """The hyperprior path's configuration (one rate; its λ is the MSE weight that λ_d corresponds to)."""
        return ModelConfig("hyperprior", self.channels, self.latent_channels, (self.lam_d / 255**2,), self.mean)

    def to_json(self) -> str:
        return json.dumps({"kind": KIND, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HificConfig:
        data = json.loads(text)
        if not isinstance(data, dict) or data.pop("kind", None) != KIND:
            raise InputError(f"this is not a hific configuration: {text[:200]!r}.")
        data.setdefault("discriminator_input", DISCRIMINATOR_INPUTS[0])  # written before the option existed
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"the stored hific configuration has unknown options {', '.join(unknown)}; it was written by a newer rdpkit-learned-codecs, upgrade it.")
        return cls(**data)

    def describe(self) -> str:
        return ", ".join(f"{f.name}={format_value(getattr(self, f.name))}" for f in fields(self))
