"""A deliberately flawed metric: the MSE between the images' block means.

Averaging each 8×8 block maps many different images to the same small image (the map is
surjective onto the block means, not injective), so D(x, y) = 0 for every y whose blocks have
x's means, a blind spot the recovery test finds: starting from noise, gradient descent stops
at an image with x's block means and none of its detail. It is here to show what
`rdpkit audit` catches, not to be used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import rdpkit


class PooledMSE(rdpkit.Distortion):
    """Mean squared error between `block`×`block` average-pooled images."""

    def __init__(self, block: int = 8) -> None:
        super().__init__()
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise rdpkit.InputError(f"block must be a positive number of pixels, got {block!r}.")
        self.block = block
        self.min_size = block

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (F.avg_pool2d(x, self.block) - F.avg_pool2d(x_hat, self.block)).pow(2).flatten(1).mean(1)
