"""The verdict of a recovery run: `recovered`, `blind spot` or `not converged`, with the numbers behind it.

Ding et al. judged recovery by eye; rdpkit judges it by numbers and states them:

- **recovered**: y* is close to the reference x, PSNR(x, y*) ≥ `psnr_db` *and* SSIM(x, y*) ≥ `ssim`.
- **blind spot**: not recovered, yet D(x, y*) is at or below the *near-identical level*: the
  smallest value D gives to barely perturbed copies of x (by default x plus Gaussian noise of
  σ = 0.01, about 40 dB PSNR, and x shifted by one pixel; both are invisible side by side).
  D then scores y* as at least as good as a copy nobody could tell from x, although y* is not x.
- **not converged**: neither; D(x, y*) is still above that level (more steps may help).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:  # torch stays unimported until a level is measured: the CLI shows these defaults
    import torch

    from ..interfaces import Distortion

RECOVERED = "recovered"
BLIND_SPOT = "blind spot"
NOT_CONVERGED = "not converged"
LABELS = (RECOVERED, BLIND_SPOT, NOT_CONVERGED)


@dataclass(frozen=True)
class Thresholds:
    """What counts as recovered, and which perturbations define "near-identical" (rdpkit.degrade specs)."""

    psnr_db: float = 30.0
    ssim: float = 0.90
    near_identical: tuple[str, ...] = ("gaussian:0.01", "shift:1")

    def check(self) -> Thresholds:
        """Return self if every field is usable, else raise InputError (run before any work starts)."""
        if not self.near_identical:
            raise InputError("near_identical needs at least one perturbation, e.g. ('gaussian:0.01',).")
        from ..degrade import parse

        for spec in self.near_identical:
            parse(spec)
        if not isinstance(self.psnr_db, (int, float)) or not math.isfinite(self.psnr_db):
            raise InputError(f"the PSNR threshold must be a finite number of dB, got {self.psnr_db}.")
        if not isinstance(self.ssim, (int, float)) or not -1 <= self.ssim <= 1:
            raise InputError(f"the SSIM threshold must lie in [-1, 1], got {self.ssim}.")
        return self

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["near_identical"] = list(self.near_identical)
        return d


def near_identical_level(d: Distortion, x: torch.Tensor, perturbations: tuple[str, ...], seed: int = 0) -> torch.Tensor:
    """Per image, the smallest D(x, x') over the barely perturbed copies x' of x."""
    import torch

    from ..degrade import degrade

    with torch.no_grad():
        values = torch.stack([d(x, degrade(x, spec, seed=seed)) for spec in perturbations])
    return values.min(dim=0).values


@dataclass(frozen=True)
class Verdict:
    label: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "reason": self.reason}


def judge(psnr: float, ssim: float, value: float, level: float, thresholds: Thresholds, dead_channels: int = 0) -> Verdict:
    """The verdict for a final image with these numbers (a pure function: stored runs can be re-judged).

    `dead_channels` (channels where D's gradient is exactly zero at y*) only adds its explanation to `not converged`.
    """
    t = thresholds
    if psnr >= t.psnr_db and ssim >= t.ssim:
        return Verdict(RECOVERED, f"PSNR {psnr:.2f} dB ≥ {t.psnr_db:g} dB and SSIM {ssim:.4f} ≥ {t.ssim:g}")
    far = f"PSNR {psnr:.2f} dB" + (f" < {t.psnr_db:g} dB" if psnr < t.psnr_db else "") + f", SSIM {ssim:.4f}" + (f" < {t.ssim:g}" if ssim < t.ssim else "")
    if math.isfinite(value) and value <= level:
        return Verdict(BLIND_SPOT, f"D(x, y*) = {value:.4g} ≤ {level:.4g}, what D gives near-identical copies of x, yet {far}")
    stuck = f"; D's gradient is exactly zero on {dead_channels} channel(s) of y*, so more steps cannot move them: D is flat there" if dead_channels else ""
    return Verdict(NOT_CONVERGED, f"D(x, y*) = {value:.4g} is still above the near-identical level {level:.4g} and {far}{stuck}")
