"""The one codec measurement: x → bitstream bytes → x̂, with the rate measured from those bytes.

Every harness (sweep trials, the P-D plane, evaluation) and every codec plugin reports rate
through `round_trip` and `Rate`, so "bits per pixel" means the same thing everywhere: the size
of the real container (`Bitstream.to_bytes()`, header included), with the bare entropy-coded
payload beside it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..bitstream import Bitstream
from ..interfaces import Codec


@dataclass(frozen=True)
class Rate:
    """The rate of one coded batch, from its bytes."""

    bytes: int  # the whole container
    images: int
    bits_per_image: float
    bpp: float  # bits per pixel (per spatial position, all channels together)
    payload_bits_per_image: float  # the entropy-coded payload alone, without the container

    @classmethod
    def of(cls, bits: Bitstream) -> Rate:
        return cls(bytes=bits.num_bytes, images=bits.shape[0], bits_per_image=bits.bits_per_image, bpp=bits.bpp,
                   payload_bits_per_image=bits.payload_bits_per_image)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoundTrip:
    """What coding a batch gave: the decoded images, the bytes, their rate, and the wall times."""

    x_hat: torch.Tensor
    data: bytes
    rate: Rate
    encode_seconds: float
    decode_seconds: float


def round_trip(codec: Codec, x: torch.Tensor, *, seed: int | None = None) -> RoundTrip:
    """Encode `x`, serialise the bitstream to bytes, decode those bytes (under `seed`), and measure the rate.

    The decoder sees only the bytes, as a receiver would; x̂ comes back on x's device and dtype.
    """
    with torch.no_grad():
        t0 = time.perf_counter()
        bits = codec.encode(x)
        data = bits.to_bytes()
        t1 = time.perf_counter()
        x_hat = codec.decode(data, seed=seed)
        t2 = time.perf_counter()
    return RoundTrip(x_hat.to(device=x.device, dtype=x.dtype), data, Rate.of(bits), t1 - t0, t2 - t1)
