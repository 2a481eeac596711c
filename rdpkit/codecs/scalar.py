"""Uniform scalar quantisation of pixels, entropy coded with an adaptive model.

Every value is mapped to the nearest of `levels` evenly spaced reconstruction values
0, 1/(L−1), ..., 1 (so L = 256 is lossless on 8-bit images). The indices are coded
losslessly: each is predicted by its left neighbour (PNG's "Sub" filter; the first column by
0), and the residuals (idx − left) mod L, in raster order over the whole batch, are
range-coded with an adaptive categorical model (entropy.py). No table is sent; the rate
approaches the empirical entropy of the residuals.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..bitstream import Bitstream
from ..interfaces import Codec
from .entropy import decode_adaptive, encode_adaptive
from .headers import check_shape, dtype_name, field, header_dtype
from .options import check_int

MAX_LEVELS = 4096


def left_residuals(indices: np.ndarray, levels: int) -> np.ndarray:
    """(idx − left neighbour) mod L along the last axis; the first column is kept as it is."""
    residuals = indices.copy()
    residuals[..., 1:] = np.mod(indices[..., 1:] - indices[..., :-1], levels)
    return residuals


class ScalarQuantizer(Codec):
    """Uniform scalar quantiser of pixel values with `levels` reconstruction values in [0, 1]."""

    rate_settings = {"levels": (4, 16, 64)}

    def __init__(self, levels: int = 16) -> None:
        self.levels = check_int(levels, 2, MAX_LEVELS, "levels")

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """Quantisation index of every value, int64, same shape as `x`."""
        return torch.round(x.double().clamp(0, 1) * (self.levels - 1)).long()

    def _encode(self, x: torch.Tensor) -> Bitstream:
        symbols = left_residuals(self.indices(x).cpu().numpy(), self.levels)
        payload = encode_adaptive(symbols.ravel(), self.levels)
        return Bitstream(self.codec_name, tuple(x.shape), payload, {"levels": self.levels, "dtype": dtype_name(x)})

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        shape = check_shape(bits)
        levels = field(bits, "levels", int, 2, MAX_LEVELS)
        dtype = header_dtype(bits)
        # math.prod: a forged shape must not wrap around in int64 to a count the payload can hold.
        indices = decode_adaptive(bits.payload, levels, math.prod(shape)).reshape(shape)
        np.cumsum(indices, axis=-1, out=indices)
        np.mod(indices, levels, out=indices)
        return torch.from_numpy(indices).double().div_(levels - 1).to(dtype)
