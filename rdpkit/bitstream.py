"""The container every codec writes: real bytes, with the header a decoder needs.

Layout (all integers big-endian)::

    b"RDPK" | u8 format version | u32 header length | header (UTF-8 JSON) | u32 CRC-32 of payload | payload

The header holds the codec's name, the batch shape and whatever else the decoder needs. The
rate a user sees is measured from `len(bitstream.to_bytes())`, container included; the bare
payload size is reported beside it.
"""

from __future__ import annotations

import json
import reprlib
import struct
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import CorruptBitstream, InputError

MAGIC = b"RDPK"
FORMAT_VERSION = 1
#: The most pixels (N·H·W, once padded as the decoder pads them) a decoder makes from one bitstream unless it is created
#: with a larger `max_pixels`: 2**24, one 4096×4096 image. The learned codecs' decoders peak at about 260–300 bytes per
#: pixel (measured with their shipped models: factorized, hyperprior and hific +1.1 GB at 2048×2048; hyperprior +4.3 GB
#: at 4096×4096), so a decode stays near 5 GB, which fits a 24 GB machine with room for the caller's own images and for
#: trials running in parallel (the former 2**26 would need 15–20 GB).
MAX_PIXELS = 1 << 24
_PREFIX = struct.Struct(">4sBI")
_CRC = struct.Struct(">I")


@dataclass(frozen=True)
class Bitstream:
    codec: str
    shape: tuple[int, int, int, int]  # N×C×H×W of the coded batch
    payload: bytes
    header: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        head = json.dumps(
            {"codec": self.codec, "shape": list(self.shape), **self.header}, sort_keys=True, separators=(",", ":")
        ).encode()
        return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)) + head + _CRC.pack(zlib.crc32(self.payload)) + self.payload

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Bitstream:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # bytes(n) of an integer n would allocate n zero bytes.
            raise InputError(f"Bitstream.from_bytes takes bytes, got {type(data).__name__}; pass bytes written by Bitstream.to_bytes().")
        data = bytes(data)
        if len(data) < _PREFIX.size or data[:4] != MAGIC:
            raise CorruptBitstream("these bytes are not an rdpkit bitstream (no RDPK signature); pass bytes written by Bitstream.to_bytes().")
        _, version, head_len = _PREFIX.unpack_from(data)
        if version != FORMAT_VERSION:
            raise CorruptBitstream(f"bitstream format version {version} is not supported (this rdpkit reads version {FORMAT_VERSION}); decode it with the rdpkit that wrote it.")
        start = _PREFIX.size
        if len(data) < start + head_len + _CRC.size:
            raise CorruptBitstream(f"the bitstream is truncated: {len(data)} bytes, but its header alone needs {start + head_len + _CRC.size}; re-send or re-encode it.")
        try:
            head = json.loads(data[start : start + head_len])
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
            raise CorruptBitstream(f"the bitstream header is not readable JSON ({type(exc).__name__}); re-encode the images.") from None
        codec = head.pop("codec", None) if isinstance(head, dict) else None
        shape = head.pop("shape", None) if isinstance(head, dict) else None
        if not isinstance(codec, str):
            raise CorruptBitstream("the bitstream header names no codec; it is damaged, re-encode the images.")
        if not (isinstance(shape, list) and len(shape) == 4 and all(type(s) is int and s >= 1 for s in shape)):
            raise CorruptBitstream(f"the bitstream header gives shape {short_repr(shape)}, not four positive integers N×C×H×W; re-encode the images.")
        (crc,) = _CRC.unpack_from(data, start + head_len)
        payload = data[start + head_len + _CRC.size :]
        if zlib.crc32(payload) != crc:
            raise CorruptBitstream("the bitstream payload fails its CRC-32 check (truncated or damaged); re-send or re-encode it.")
        return cls(codec=codec, shape=tuple(shape), payload=payload, header=head)  # type: ignore[arg-type]

    def padded_size(self, max_pixels: int, stride: int = 1) -> tuple[int, int]:
        """H and W rounded up to a multiple of `stride` (what a decoder works on), once N·H·W so padded is known to be
        at most `max_pixels`: the one check every decoder makes before it allocates anything for the images."""
        n, _, h, w = self.shape
        hp, wp = -(-h // stride) * stride, -(-w // stride) * stride
        if n * hp * wp > max_pixels:
            # The padded size is what the decoder works on: a million 8×8 images are a million 64×64 ones.
            padded = f" once padded to a multiple of {stride}" if (hp, wp) != (h, w) else ""
            raise CorruptBitstream(f"the bitstream header announces {n}×{h}×{w} pixels ({n * hp * wp:,}{padded}), more than this codec decodes (max_pixels={max_pixels:,}; "
                                   f"the default {MAX_PIXELS:,} keeps a learned decoder near 5 GB); if the bitstream is genuine, create the codec with a larger max_pixels.")
        return hp, wp

    @cached_property
    def num_bytes(self) -> int:
        """Size of the whole container, header included."""
        return len(self.to_bytes())

    @property
    def bits_per_image(self) -> float:
        return 8 * self.num_bytes / self.shape[0]

    @property
    def bpp(self) -> float:
        """Bits per pixel (per spatial position, all channels together), header included."""
        n, _, h, w = self.shape
        return 8 * self.num_bytes / (n * h * w)

    @property
    def payload_bits_per_image(self) -> float:
        """Bits per image of the entropy-coded payload alone, without the container."""
        return 8 * len(self.payload) / self.shape[0]


def short_repr(value: Any) -> str:
    """A forged header value as a message shows it: reprlib's bounded repr, so a huge or deeply nested value cannot flood or overflow it."""
    return reprlib.repr(value)
