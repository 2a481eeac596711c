"""The network of the trainable critics: an MLP for vectors and small images, a conv net for larger ones."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError

#: Images at least this large (height and width) get the conv net; smaller inputs the MLP.
CONV_MIN_SIZE = 16
#: The conv net halves the resolution until the feature map is at most this large.
CONV_FINAL_SIZE = 8


class CriticNet(nn.Module):
    """`body` maps a batch to N×hidden features, `head` maps those to one value per sample.

    No batch normalisation anywhere: the gradient penalty is per sample, and each sample's
    value must not depend on the rest of the batch.
    """

    def __init__(self, body: nn.Module, hidden: int) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(hidden, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten()


def _conv_body(channels: int, height: int, width: int, hidden: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in, c_out = channels, 32
    while max(height, width) > CONV_FINAL_SIZE and min(height, width) >= 2 * 2:
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        height, width = height // 2, width // 2
        c_in, c_out = c_out, min(2 * c_out, 256)
    layers += [nn.Flatten(), nn.Linear(c_in * height * width, hidden), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


def _mlp_body(dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2)
    )


def make_critic_net(shape: tuple[int, ...], hidden: int = 256) -> CriticNet:
    """A network mapping a batch N×`shape` to N scalars.

    Images (C, H, W) with H and W at least 16 get a strided conv net (LeakyReLU, no
    normalisation) that halves the resolution down to 8×8 or less; everything else (vectors,
    8×8 digits) an MLP on the flattened input with two hidden layers of `hidden` units.
    """
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1 or hidden < 1:
        raise InputError(f"make_critic_net needs a non-empty per-sample shape of positive sizes and hidden >= 1, got shape {shape} and hidden {hidden}; pass e.g. (1, 8, 8) for digits.")
    if len(shape) == 3 and min(shape[1:]) >= CONV_MIN_SIZE:
        body = _conv_body(*shape, hidden)
    else:
        body = _mlp_body(math.prod(shape), hidden)
    return CriticNet(body, hidden)
