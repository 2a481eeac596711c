"""Generalized divisive normalization (Ballé et al., ICLR 2016) with CompressAI's parametrization.

GDN: y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²); its inverse (IGDN) multiplies by the square root
instead. β and γ are stored reparametrized as CompressAI stores them (β = max(b, √(β_min + ε))²
− ε, γ = max(g, √ε)² − ε, ε = 2⁻³⁶), so CompressAI's checkpoints load verbatim and the
optimiser sees the same landscape as theirs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: ε of the reparametrization: (2⁻¹⁸)², keeps the square root's gradient finite near 0.
PEDESTAL = 2.0**-36


class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still flows when it pushes x back above the bound."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        # A plain clamp would freeze a parameter stuck below the bound for good.
        return grad * ((x >= ctx.bound) | (grad < 0)).to(grad.dtype), None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    return _LowerBound.apply(x, bound)


class GDN(nn.Module):
    """GDN over channels (IGDN with `inverse=True`), initialised as CompressAI does (β = 1, γ = 0.1·I)."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_bound = (beta_min + PEDESTAL) ** 0.5
        self.gamma_bound = PEDESTAL**0.5
        self.beta = nn.Parameter(torch.sqrt(torch.ones(channels) + PEDESTAL))
        self.gamma = nn.Parameter(torch.sqrt(gamma_init * torch.eye(channels) + PEDESTAL))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = lower_bound(self.beta, self.beta_bound).pow(2) - PEDESTAL
        gamma = lower_bound(self.gamma, self.gamma_bound).pow(2) - PEDESTAL
        norm = F.conv2d(x * x, gamma[:, :, None, None], beta)
        if torch.is_grad_enabled():
            return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))
        # Coding needs no graph: in place, the two passes over the activations allocate nothing (a tenth of the encode).
        return (norm.sqrt_() if self.inverse else norm.rsqrt_()).mul_(x)
