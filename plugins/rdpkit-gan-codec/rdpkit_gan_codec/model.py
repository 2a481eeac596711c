"""The trainable part of the codec: x → f(x) → quantise → (+ noise) → g → x̂, and the integer prior."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rdpkit.codecs.entropy import quantize_frequencies

from .config import GanConfig
from .networks import build_decoder, build_encoder, resolve_arch
from .quantizer import SoftToHardQuantizer

#: The prior's frequencies sum to 2**PRIOR_PRECISION in every row.
PRIOR_PRECISION = 16


class GanAutoencoder(nn.Module):
    """Encoder, quantiser and decoder for images of one shape C×H×W.

    `prior` holds, per latent entry, integer frequencies of the L indices (dim×L, each row
    summing to 2**PRIOR_PRECISION): the entropy model, stored with the weights and never recomputed from
    floating-point values, so bitstreams decode on any machine.
    """

    def __init__(self, config: GanConfig, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = shape
        self.noise = config.noise
        arch = resolve_arch(config.arch, shape)
        self.encoder = build_encoder(shape, config.dim, config.hidden, arch)
        self.quantizer = SoftToHardQuantizer(config.levels, config.sigma)
        self.decoder = build_decoder(shape, config.dim, config.hidden, arch)
        uniform = quantize_frequencies(np.zeros((config.dim, config.levels), dtype=np.int64), PRIOR_PRECISION)
        self.register_buffer("prior", torch.from_numpy(uniform))

    def uniform_noise(self, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
        """U(−α/2, α/2) in units of the quantisation bin, drawn with `generator` on its device."""
        u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64)
        return (u - 0.5) * (self.noise * self.quantizer.bin_width)

    def decode_latent(self, latent: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """g(f̂(x) + n): the noise is added to the quantised latent, not concatenated."""
        if self.noise:
            latent = latent + noise.to(latent)
        return self.decoder(latent)

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        latent, _ = self.quantizer(self.encoder(x))
        return self.decode_latent(latent, noise)
