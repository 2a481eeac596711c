"""Any image size: pad to a multiple of the transforms' stride (replicating the edge), crop back after decoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = -h % stride, -w % stride
    if not (ph or pw):
        return x
    # Replicate, not zeros: a flat edge costs almost no bits and does not ring into the image.
    return F.pad(x, (0, pw, 0, ph), mode="replicate")
