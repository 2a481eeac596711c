"""HiFiC's larger synthesis transform (Mentzer et al., NeurIPS 2020, appendix A.1), scaled by two numbers.

ChannelNorm → 3×3 convolution to `channels` → ChannelNorm; `blocks` residual blocks (3×3
convolution, ChannelNorm, ReLU, 3×3 convolution, ChannelNorm, plus the input); four 3×3
stride-2 transposed convolutions halving the width each time (ChannelNorm, ReLU after each);
a 7×7 convolution to the image. HiFiC's own is 960 channels and 9 blocks for a 220-channel
latent; this one's defaults are sized for a CPU.

ChannelNorm (HiFiC's replacement for instance normalisation, which produced darkening
artefacts across resolutions) normalises each pixel over its channels with a learned
per-channel affine map, so an image's output depends neither on the batch nor on its size.
"""

from __future__ import annotations

import torch
from torch import nn

UPSAMPLINGS = 4


class ChannelNorm(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = x.var(1, unbiased=False, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), ChannelNorm(channels), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1), ChannelNorm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def hific_synthesis(latent: int, channels: int, blocks: int, image_channels: int = 3) -> nn.Sequential:
    """The generator G(ŷ): latent (N×`latent`×H/16×W/16) to image (N×3×H×W), not clamped."""
    layers: list[nn.Module] = [ChannelNorm(latent), nn.Conv2d(latent, channels, 3, padding=1), ChannelNorm(channels)]
    layers += [ResidualBlock(channels) for _ in range(blocks)]
    width = channels
    for _ in range(UPSAMPLINGS):
        out = max(width // 2, 1)
        layers += [nn.ConvTranspose2d(width, out, 3, stride=2, padding=1, output_padding=1), ChannelNorm(out), nn.ReLU()]
        width = out
    layers.append(nn.Conv2d(width, image_channels, 7, padding=3))
    return nn.Sequential(*layers)
