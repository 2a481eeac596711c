"""The convolutional transforms of Ballé et al. (ICLR 2018) and Minnen et al. (NeurIPS 2018).

Laid out exactly as CompressAI lays out bmshj2018-factorized, bmshj2018-hyperprior and
mbt2018-mean (nn.Sequential, same indices), so that their parameter names map one to one:

- analysis g_a: four 5×5 stride-2 convolutions with GDN between them (image → latent y, /16);
- synthesis g_s: the mirror image with transposed convolutions and IGDN. `extra_channels`
  widens its input for channels concatenated to the latent (the noise of a HiFiC-style
  generator), `channels` sets its width independently of the analysis;
- hyper-analysis h_a and hyper-synthesis h_s (y → z, /4 more): ReLU for the scale
  hyperprior, LeakyReLU and a 2M-channel output (scales, means) for the mean-scale variant.
"""

from __future__ import annotations

from torch import nn

from .gdn import GDN


def conv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


def deconv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1)


def analysis(channels: int, latent: int, image_channels: int = 3) -> nn.Sequential:
    n = channels
    return nn.Sequential(conv(image_channels, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n), conv(n, latent))


def synthesis(channels: int, latent: int, image_channels: int = 3, extra_channels: int = 0) -> nn.Sequential:
    n = channels
    return nn.Sequential(
        deconv(latent + extra_channels, n), GDN(n, inverse=True), deconv(n, n), GDN(n, inverse=True),
        deconv(n, n), GDN(n, inverse=True), deconv(n, image_channels),
    )


def hyper_analysis(channels: int, latent: int, mean: bool) -> nn.Sequential:
    act = nn.LeakyReLU if mean else nn.ReLU
    return nn.Sequential(conv(latent, channels, 3, 1), act(), conv(channels, channels), act(), conv(channels, channels))


def hyper_synthesis(channels: int, latent: int, mean: bool) -> nn.Sequential:
    if mean:
        wide = latent * 3 // 2
        return nn.Sequential(deconv(channels, latent), nn.LeakyReLU(), deconv(latent, wide), nn.LeakyReLU(), conv(wide, 2 * latent, 3, 1))
    return nn.Sequential(deconv(channels, channels), nn.ReLU(), deconv(channels, channels), nn.ReLU(), conv(channels, latent, 3, 1), nn.ReLU())
