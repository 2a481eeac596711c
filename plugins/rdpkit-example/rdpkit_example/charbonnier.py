"""The Charbonnier distortion: a smooth L1 penalty, popular as a restoration loss."""

from __future__ import annotations

import torch

import rdpkit


class Charbonnier(rdpkit.Distortion):
    """mean over pixels of sqrt((x − x̂)² + ε²) − ε; 0 at x̂ = x, about |x − x̂| far from it."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        if not eps > 0:
            raise rdpkit.InputError(f"eps must be positive, got {eps}.")
        self.eps = eps

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        # Inputs arrive validated (shape, dtype, range, device) by rdpkit.Distortion.forward.
        e2 = (x - x_hat).pow(2)
        return (torch.sqrt(e2 + self.eps**2) - self.eps).flatten(1).mean(1)
