"""The networks of the factorized and hyperprior codecs, and what training and rate estimates need from them.

`CodecModel.forward` is the training pass of Ballé et al.: additive uniform noise stands in
for rounding in the rate term, while the synthesis sees the rounded latent through a
straight-through estimator (which Minnen & Singh, ICIP 2020, found better than noise there).
The loss is λ·255²·MSE + bits per pixel, as in CompressAI. A model with several λ is a
variable-rate model: per-channel gains scale the latent before rounding and back after it,
one pair per λ (Cui et al., CVPR 2021), so one network codes at every rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..entropy.factorized_prior import FactorizedDensity
from ..entropy.gaussian import GaussianConditional
from ..models.config import ModelConfig
from .transforms import analysis, hyper_analysis, hyper_synthesis, synthesis


def ste_round(v: torch.Tensor) -> torch.Tensor:
    """round(v) forward, identity backward."""
    return v + (torch.round(v) - v).detach()


@dataclass
class Forward:
    """What one training pass gives: the reconstruction and each image's estimated bits."""

    x_hat: torch.Tensor
    bits: torch.Tensor  # N, the latents' and hyper-latents' −log2 likelihoods


class CodecModel(nn.Module):
    """Analysis, synthesis, and the entropy model(s) of one configuration."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n, m = config.channels, config.latent_channels
        self.g_a = analysis(n, m)
        self.g_s = synthesis(n, m)
        if config.rates > 1:
            # Step sizes ∝ 1/√λ are MSE-optimal for uniform quantisation: start the gains there.
            ref = sum(math.log(lam) for lam in config.lams) / config.rates
            start = torch.tensor([0.5 * (math.log(lam) - ref) for lam in config.lams])
            self.gain = nn.Parameter(start[:, None].repeat(1, m))
            self.inverse_gain = nn.Parameter(-start[:, None].repeat(1, m))
        if config.kind == "factorized":
            self.prior = FactorizedDensity(m)
        else:
            self.h_a = hyper_analysis(n, m, config.mean)
            self.h_s = hyper_synthesis(n, m, config.mean)
            self.hyperprior = FactorizedDensity(n)
            self.conditional = GaussianConditional()

    def entropy_modules(self) -> list[nn.Module]:
        """The modules that hold integer tables: the prior, or the hyperprior and the Gaussian conditional."""
        return [self.prior] if self.config.kind == "factorized" else [self.hyperprior, self.conditional]

    def gains(self, rate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each image's latent gain and inverse gain (N×M×1×1) for rate indices `rate` (N), or None for a single-rate model."""
        if self.config.rates == 1:
            return None
        return self.gain[rate].exp()[:, :, None, None], self.inverse_gain[rate].exp()[:, :, None, None]

    def latent(self, x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
        """y = g_a(x), scaled by the gain of each image's rate."""
        y = self.g_a(x)
        g = self.gains(rate)
        return y if g is None else y * g[0]

    def reconstruct(self, y_hat: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
        """g_s(ŷ), after the inverse gain of each image's rate (not clamped)."""
        g = self.gains(rate)
        return self.g_s(y_hat if g is None else y_hat * g[1])

    def hyper_latent(self, y: torch.Tensor) -> torch.Tensor:
        return self.h_a(y if self.config.mean else y.abs())

    def hyper_parameters(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """σ (and μ for the mean-scale variant) from the float hyper-synthesis."""
        params = self.h_s(z_hat)
        if self.config.mean:
            scales, means = params.chunk(2, 1)
            return scales, means
        return params, None

    def forward(self, x: torch.Tensor, rate: torch.Tensor, generator: torch.Generator) -> Forward:
        y = self.latent(x, rate)
        if self.config.kind == "factorized":
            noisy = y + _uniform(y, generator)
            bits = -torch.log2(self.prior.likelihood(noisy)).flatten(1).sum(1)
            return Forward(self.reconstruct(ste_round(y), rate), bits)
        z = self.hyper_latent(y)
        z_bits = -torch.log2(self.hyperprior.likelihood(z + _uniform(z, generator))).flatten(1).sum(1)
        scales, means = self.hyper_parameters(ste_round(z))
        y_bits = -torch.log2(self.conditional.likelihood(y + _uniform(y, generator), scales, means)).flatten(1).sum(1)
        y_hat = ste_round(y) if means is None else ste_round(y - means) + means
        return Forward(self.reconstruct(y_hat, rate), y_bits + z_bits)

    @torch.no_grad()
    def estimated_bits(self, x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
        """Each image's −log2 likelihood of its rounded latents under the float model: the rate training optimises."""
        y = self.latent(x, rate)
        if self.config.kind == "factorized":
            return -torch.log2(self.prior.likelihood(torch.round(y))).flatten(1).sum(1)
        z_hat = torch.round(self.hyper_latent(y))
        scales, means = self.hyper_parameters(z_hat)
        y_hat = torch.round(y) if means is None else torch.round(y - means) + means
        bits = -torch.log2(self.conditional.likelihood(y_hat, scales, means)).flatten(1).sum(1)
        return bits - torch.log2(self.hyperprior.likelihood(z_hat)).flatten(1).sum(1)


def _uniform(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """U(−½, ½) noise drawn on the CPU (the same on every device under one seed)."""
    return (torch.rand(like.shape, generator=generator, dtype=torch.float32) - 0.5).to(like)
