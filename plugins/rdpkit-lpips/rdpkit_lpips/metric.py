"""LPIPS (Zhang, Isola, Efros, Shechtman & Wang, CVPR 2018) through the lpips package.

The calibrated linear layers ship inside the lpips package. The ImageNet backbone comes
from torchvision through the torch hub cache; this module looks there itself before
lpips asks torchvision for it, so a machine without the file gets one sentence at once
instead of a download attempt. ``pretrained=False`` keeps the calibrated linear layers on
a randomly initialised backbone (seeded, so reproducible): a baseline that needs no
download, and an instructive one in the reference-recovery test.
"""

from __future__ import annotations

import os
import warnings
from typing import ClassVar
from urllib.parse import urlparse

import torch

import rdpkit


def backbone_url(net: str) -> str:
    """Where torchvision publishes the ImageNet weights of lpips' backbone `net`."""
    from torchvision.models import AlexNet_Weights, SqueezeNet1_1_Weights, VGG16_Weights

    weights = {"alex": AlexNet_Weights, "vgg": VGG16_Weights, "squeeze": SqueezeNet1_1_Weights}[net]
    return weights.IMAGENET1K_V1.url


def backbone_file(net: str) -> str:
    """The path torchvision reads the backbone weights from (present or not)."""
    url = backbone_url(net)
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))


class LPIPS(rdpkit.Distortion):
    """LPIPS v0.1 distance: 0 at x̂ = x, larger for perceptually farther images."""

    net: ClassVar[str]

    def __init__(self, pretrained: bool = True, download: bool = False, seed: int = 0) -> None:
        super().__init__()
        import lpips

        if pretrained and not download:
            path = backbone_file(self.net)
            if not os.path.isfile(path):
                raise rdpkit.WeightsUnavailable(
                    f"lpips-{self.net} needs the ImageNet backbone weights file {os.path.basename(path)!r}, which is not in "
                    f"{os.path.dirname(path)}; put it there (it is published at {backbone_url(self.net)}), "
                    "or create the metric with download=True to fetch it or pretrained=False for a random backbone."
                )
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            torch.manual_seed(seed)
            # lpips still passes torchvision's deprecated `pretrained=` argument.
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net=self.net, pnet_rand=not pretrained, verbose=False)
        self.model.eval().requires_grad_(False)

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        dtype = next(self.model.parameters()).dtype
        d = self.model(x.to(dtype), x_hat.to(dtype), normalize=True)
        return d.reshape(x.shape[0]).to(x.dtype)


class LPIPSAlex(LPIPS):
    net = "alex"
    min_size = 31


class LPIPSVGG(LPIPS):
    net = "vgg"
    min_size = 16


class LPIPSSqueeze(LPIPS):
    net = "squeeze"
    min_size = 17
