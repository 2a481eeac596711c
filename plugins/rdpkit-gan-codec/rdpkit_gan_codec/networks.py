"""The encoder f and decoder g: MLPs for small images (digits), strided conv nets for larger ones.

The encoder ends in tanh, so its output lies in [−1, 1], the range of the quantiser's centres;
the decoder ends in a sigmoid, so images lie in [0, 1]. No batch normalisation: each image's
code and reconstruction must not depend on the rest of the batch.
"""

from __future__ import annotations

from torch import nn

from rdpkit.errors import InputError

#: Images whose height and width are at least this get conv nets under arch="auto".
CONV_MIN_SIZE = 16
#: The conv nets halve the resolution until it is at most this.
CONV_FINAL_SIZE = 4


def resolve_arch(arch: str, shape: tuple[int, int, int]) -> str:
    """"mlp" or "conv" for images of `shape` (C, H, W), checking that "conv" fits them."""
    h, w = shape[1:]
    if arch == "auto":
        return "conv" if min(h, w) >= CONV_MIN_SIZE else "mlp"
    if arch == "conv" and (min(h, w) < CONV_MIN_SIZE or h % 2 or w % 2):
        raise InputError(f"arch='conv' needs images of at least {CONV_MIN_SIZE}×{CONV_MIN_SIZE} with even sides, got {h}×{w}; use arch='mlp'.")
    return arch


def _halvings(h: int, w: int) -> int:
    n = 0
    while max(h, w) > CONV_FINAL_SIZE and h % 2 == 0 and w % 2 == 0:
        h, w, n = h // 2, w // 2, n + 1
    return n


def build_encoder(shape: tuple[int, int, int], dim: int, hidden: int, arch: str) -> nn.Module:
    c, h, w = shape
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, dim), nn.Tanh())
    layers: list[nn.Module] = []
    channels = c
    for i in range(_halvings(h, w)):
        out = hidden * 2**i
        layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels, h, w = out, h // 2, w // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * h * w, dim), nn.Tanh())


def build_decoder(shape: tuple[int, int, int], dim: int, hidden: int, arch: str) -> nn.Module:
    c, h, w = shape
    if arch == "mlp":
        return nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, c * h * w), nn.Sigmoid(), nn.Unflatten(1, shape))
    n = _halvings(h, w)
    sh, sw = h // 2**n, w // 2**n
    channels = hidden * 2 ** max(n - 1, 0)
    layers: list[nn.Module] = [nn.Linear(dim, channels * sh * sw), nn.LeakyReLU(0.2), nn.Unflatten(1, (channels, sh, sw))]
    for i in reversed(range(n)):
        out = c if i == 0 else hidden * 2 ** (i - 1)
        layers.append(nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1))
        if i:
            layers.append(nn.LeakyReLU(0.2))
        channels = out
    return nn.Sequential(*layers, nn.Sigmoid())

