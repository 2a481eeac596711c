"""The built-in distortions: MSE, 1 − SSIM and 1 − MS-SSIM."""

from __future__ import annotations

import torch

from .interfaces import Distortion
from .ssim import ms_ssim, ms_ssim_min_size, ssim


class MSE(Distortion):
    """Mean squared error over pixels and channels."""

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (x - x_hat).pow(2).flatten(1).mean(1)


# SSIM and MS-SSIM are at most 1 (Cauchy-Schwarz); float32 rounding on flat images can push
# them a few 1e-5 above it, which would make the distortion negative. Clamping keeps Δ ≥ 0.


class SSIM(Distortion):
    """1 − SSIM, so that lower is better and Δ(x, x) = 0."""

    min_size = 11

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (1 - ssim(x, x_hat)).clamp_min(0)


class MSSSIM(Distortion):
    """1 − MS-SSIM, so that lower is better and Δ(x, x) = 0."""

    min_size = ms_ssim_min_size()

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (1 - ms_ssim(x, x_hat)).clamp_min(0)
