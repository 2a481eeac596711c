"""Sanity checks any distortion should pass, and PIM was built to: severity ordering and shift versus noise.

- `ordering`: for each kind of damage (noise, blur, JPEG, contrast, shift) and a ladder of
  severities, mild to severe, count the ordered pairs of rungs (i < j) for which
  D(x, rung_i) < D(x, rung_j). Ties count as wrong.
- `shift_vs_noise`: is x shifted by one pixel judged closer to x than x plus Gaussian noise
  of the same MSE? MSE cannot tell them apart and SSIM prefers the noise; a perceptual
  metric should prefer the shift, which nobody notices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rdpkit.degrade import degrade
from rdpkit.interfaces import Distortion

#: kind → (rdpkit.degrade kind, severities from mild to severe).
LADDERS: dict[str, tuple[str, tuple[float, ...]]] = {
    "noise": ("gaussian", (0.02, 0.05, 0.1, 0.2)),
    "blur": ("blur", (0.5, 1.0, 2.0, 4.0)),
    "jpeg": ("jpeg", (50, 30, 15, 5)),
    "contrast": ("contrast", (0.9, 0.7, 0.5, 0.3)),
    "shift": ("shift", (1, 2, 4, 8)),
}


@dataclass(frozen=True)
class Ordering:
    correct: int
    pairs: int

    @property
    def fraction(self) -> float:
        return self.correct / self.pairs if self.pairs else float("nan")


def ordering(d: Distortion, images: torch.Tensor, ladders: dict[str, tuple[str, tuple[float, ...]]] = LADDERS, seed: int = 0) -> dict[str, Ordering]:
    """Per kind of damage, how many ordered pairs of severities `d` orders correctly over `images` (N×C×H×W)."""
    out = {}
    for kind, (spec, levels) in ladders.items():
        correct = pairs = 0
        for x in images.split(1):
            damaged = torch.cat([degrade(x, f"{spec}:{level:g}", seed=seed) for level in levels])
            with torch.no_grad():
                v = d(x.expand_as(damaged).contiguous(), damaged).tolist()
            for i in range(len(v)):
                for j in range(i + 1, len(v)):
                    correct += v[i] < v[j]
                    pairs += 1
        out[kind] = Ordering(correct, pairs)
    return out


def noise_of_mse(x: torch.Tensor, mse: float, seed: int = 0, iterations: int = 40) -> torch.Tensor:
    """x plus Gaussian noise, clipped to [0, 1], scaled (by bisection) so that its MSE from x equals `mse`."""
    e = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype).to(x.device)
    lo, hi = 0.0, 1.0
    while float(((x + hi * e).clamp(0, 1) - x).pow(2).mean()) < mse and hi < 64:
        hi *= 2
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(((x + mid * e).clamp(0, 1) - x).pow(2).mean()) < mse else (lo, mid)
    return (x + (lo + hi) / 2 * e).clamp(0, 1)


def shift_vs_noise(d: Distortion, images: torch.Tensor, seed: int = 0) -> list[tuple[float, float]]:
    """Per image, (D(x, x shifted by 1 pixel), D(x, x + Gaussian noise of the same MSE))."""
    out = []
    for x in images.split(1):
        shifted = degrade(x, "shift:1")
        noisy = noise_of_mse(x, float((shifted - x).pow(2).mean()), seed=seed)
        with torch.no_grad():
            v = d(torch.cat([x, x]), torch.cat([shifted, noisy])).tolist()
        out.append((v[0], v[1]))
    return out
