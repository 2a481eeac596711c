"""Uniform scalar quantisation of pixels, entropy coded with an adaptive model.

Every value is mapped to the nearest of `levels` evenly spaced reconstruction values
0, 1/(L−1), ..., 1 (so L = 256 is lossless on 8-bit images) and the indices, in raster order
over the whole batch, are range-coded with an adaptive categorical model (entropy.py): no
table is sent, and the rate approaches the empirical entropy of the indices.
"""

from __future__ import annotations

import numpy as np
import torch

from ..bitstream import Bitstream
from ..interfaces import Codec
from .entropy import decode_adaptive, encode_adaptive
from .headers import check_shape, dtype_name, field, header_dtype
from .options import check_int

MAX_LEVELS = 4096


class ScalarQuantizer(Codec):
    """Uniform scalar quantiser of pixel values with `levels` reconstruction values in [0, 1]."""

    def __init__(self, levels: int = 16) -> None:
        self.levels = check_int(levels, 2, MAX_LEVELS, "levels")

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """Quantisation index of every value, int64, same shape as `x`."""
        return torch.round(x.double().clamp(0, 1) * (self.levels - 1)).long()

    def _encode(self, x: torch.Tensor) -> Bitstream:
        symbols = self.indices(x).flatten().cpu().numpy()
        payload = encode_adaptive(symbols, self.levels)
        return Bitstream(self.codec_name, tuple(x.shape), payload, {"levels": self.levels, "dtype": dtype_name(x)})

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        shape = check_shape(bits)
        levels = field(bits, "levels", int, 2, MAX_LEVELS)
        dtype = header_dtype(bits)
        count = int(np.prod(shape))
        symbols = decode_adaptive(bits.payload, levels, count)
        return (torch.from_numpy(symbols).double() / (levels - 1)).reshape(shape).to(dtype)
