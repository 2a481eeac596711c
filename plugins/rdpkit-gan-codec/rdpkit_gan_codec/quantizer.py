"""Uniform quantisation of the latent with the soft-to-hard relaxation (Mentzer et al., CVPR 2018).

The forward pass is hard: each entry becomes the nearest of `levels` evenly spaced centres in
[−1, 1]. Gradients flow through the soft assignment Σ_j c_j softmax_j(−σ (z − c_j)² / Δ²),
with Δ the bin width (straight-through on the difference), as in Blau & Michaeli §4.
"""

from __future__ import annotations

import torch
from torch import nn


class SoftToHardQuantizer(nn.Module):
    def __init__(self, levels: int, sigma: float = 1.0) -> None:
        super().__init__()
        self.levels = levels
        self.sigma = sigma
        self.register_buffer("centers", torch.linspace(-1.0, 1.0, levels), persistent=False)

    @property
    def bin_width(self) -> float:
        return 2.0 / (self.levels - 1)

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest centre for every entry of `z` (int64)."""
        return torch.round((z.clamp(-1, 1) + 1) / self.bin_width).long().clamp_(0, self.levels - 1)

    def dequantize(self, indices: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        return self.centers.to(dtype or self.centers.dtype)[indices]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard values (with the soft gradient) and the indices."""
        idx = self.indices(z)
        hard = self.dequantize(idx, z.dtype)
        centers = self.centers.to(z.dtype)
        weights = torch.softmax(-self.sigma * ((z.unsqueeze(-1) - centers) / self.bin_width).pow(2), dim=-1)
        soft = (weights * centers).sum(-1)
        return soft + (hard - soft).detach(), idx
