"""The hific codec's networks: the hyperprior path of `CodecModel` (unchanged, so its bitstream is the hyperprior's)
and a generator in place of its synthesis transform, optionally fed the decoder's noise.

The training pass is the hyperprior's (uniform noise in the rate term, the rounded latent
through a straight-through estimator to the generator) and returns ŷ as well, for the
conditional discriminator. All the noise it uses is passed in, so the caller can draw it for
a whole data-parallel batch from one generator and hand each process its share.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.hific_config import HificConfig
from .codec_model import CodecModel, ste_round
from .generator import hific_synthesis


@dataclass
class HificForward:
    x_hat: torch.Tensor  # not clamped
    bits: torch.Tensor  # N: the latents' and hyper-latents' −log2 likelihoods
    y_hat: torch.Tensor  # the quantised latent the image was decoded from


@dataclass(frozen=True)
class Noise:
    """The random draws of one training pass: U(−½, ½) for the rate term of y and z, and the decoder's noise (α·U(−½, ½))."""

    y: torch.Tensor
    z: torch.Tensor
    decoder: torch.Tensor | None

    @classmethod
    def draw(cls, y_shape: tuple[int, ...], z_shape: tuple[int, ...], alpha: float, generator: torch.Generator) -> Noise:
        """Drawn on the CPU in a fixed order, so a seed gives the same noise on every device and for every split of the batch."""
        y = torch.rand(y_shape, generator=generator) - 0.5
        z = torch.rand(z_shape, generator=generator) - 0.5
        decoder = alpha * (torch.rand(y_shape, generator=generator) - 0.5) if alpha else None
        return cls(y, z, decoder)

    def rows(self, start: int, stop: int, device: torch.device) -> Noise:
        return Noise(self.y[start:stop].to(device), self.z[start:stop].to(device),
                     None if self.decoder is None else self.decoder[start:stop].to(device))


class HificModel(CodecModel):
    """g_a, h_a, h_s and the entropy models of a single-rate hyperprior, and the generator as g_s."""

    def __init__(self, hific: HificConfig) -> None:
        super().__init__(hific.model_config())
        self.hific = hific
        if hific.synthesis == "hific":
            self.g_s = hific_synthesis(hific.latent_channels, hific.synthesis_channels, hific.blocks)

    def generate(self, y_hat: torch.Tensor, noise: torch.Tensor | None = None, *, amp: bool = False) -> torch.Tensor:
        """x̂ = G(ŷ + noise), not clamped; with `amp`, the generator runs in bfloat16 autocast and returns float32."""
        v = y_hat if noise is None else y_hat + noise.to(y_hat)
        if not amp:
            return self.g_s(v)
        with torch.autocast(v.device.type, dtype=torch.bfloat16):
            return self.g_s(v).float()

    def forward(self, x: torch.Tensor, noise: Noise, amp: bool = False) -> HificForward:  # type: ignore[override]
        y = self.g_a(x)
        z = self.hyper_latent(y)
        z_bits = -torch.log2(self.hyperprior.likelihood(z + noise.z)).flatten(1).sum(1)
        scales, means = self.hyper_parameters(ste_round(z))
        y_bits = -torch.log2(self.conditional.likelihood(y + noise.y, scales, means)).flatten(1).sum(1)
        y_hat = ste_round(y) if means is None else ste_round(y - means) + means
        return HificForward(self.generate(y_hat, noise.decoder, amp=amp), y_bits + z_bits, y_hat)

    def latent_shapes(self, n: int, height: int, width: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The shapes of y and z for n images of height × width (multiples of 64)."""
        c = self.hific
        return (n, c.latent_channels, height // 16, width // 16), (n, c.channels, height // 64, width // 64)
