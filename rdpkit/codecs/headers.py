"""Reading a codec's bitstream header back: every field checked, every failure one sentence.

A bitstream that passed its CRC can still carry a header from a different rdpkit or a
hand-made file; decoders read their fields through `field` so a missing or odd value is a
CorruptBitstream, never a KeyError deep inside a decoder.
"""

from __future__ import annotations

from typing import Any

import torch

from ..bitstream import Bitstream
from ..errors import CorruptBitstream

_DTYPES = {str(d).removeprefix("torch."): d for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


def field(bits: Bitstream, key: str, kind: type, low: float | None = None, high: float | None = None) -> Any:
    """Header value `key` of type `kind` (within [low, high] for numbers)."""
    value = bits.header.get(key)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if ok and kind in (int, float):
        ok = (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        raise CorruptBitstream(f"the {bits.codec} bitstream header has {key}={value!r}, not a valid {kind.__name__}; the bitstream is damaged or from another version, re-encode it.")
    return value


def dtype_name(x: torch.Tensor) -> str:
    return str(x.dtype).removeprefix("torch.")


def header_dtype(bits: Bitstream) -> torch.dtype:
    """The dtype of the images that were encoded (decoded images get it back)."""
    name = field(bits, "dtype", str)
    if name not in _DTYPES:
        raise CorruptBitstream(f"the {bits.codec} bitstream header names dtype {name!r}, which is not an image dtype; the bitstream is damaged, re-encode it.")
    return _DTYPES[name]


def check_shape(bits: Bitstream, channels: tuple[int, ...] | None = None) -> tuple[int, int, int, int]:
    """The header's N×C×H×W, checked to be positive (and C to be one of `channels`)."""
    n, c, h, w = bits.shape
    if min(n, c, h, w) < 1 or (channels is not None and c not in channels):
        raise CorruptBitstream(f"the {bits.codec} bitstream header gives an impossible shape {bits.shape}; the bitstream is damaged, re-encode it.")
    return n, c, h, w
