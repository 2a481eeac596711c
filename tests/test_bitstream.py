"""The bitstream container: round trip, and a clear error for every kind of damage."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rdpkit
from rdpkit.bitstream import Bitstream


@given(payload=st.binary(max_size=200), n=st.integers(1, 4), header=st.dictionaries(st.sampled_from("abc"), st.integers()))
def test_round_trip(payload, n, header):
    b = Bitstream("jpeg", (n, 3, 8, 8), payload, header)
    back = Bitstream.from_bytes(b.to_bytes())
    assert back == b
    assert b.bpp == pytest.approx(8 * len(b.to_bytes()) / (n * 64))


@given(payload=st.binary(min_size=1, max_size=100), cut=st.integers(1, 400))
def test_truncation_and_damage_are_detected(payload, cut):
    raw = Bitstream("sq", (1, 1, 4, 4), payload).to_bytes()
    with pytest.raises(rdpkit.CorruptBitstream):
        Bitstream.from_bytes(raw[: max(0, len(raw) - cut)])
    flipped = raw[:-1] + bytes([raw[-1] ^ 1])
    with pytest.raises(rdpkit.CorruptBitstream, match="CRC"):
        Bitstream.from_bytes(flipped)


def test_foreign_bytes_and_versions():
    with pytest.raises(rdpkit.CorruptBitstream, match="not an rdpkit bitstream"):
        Bitstream.from_bytes(b"\x89PNG....")
    raw = bytearray(Bitstream("sq", (1, 1, 4, 4), b"x").to_bytes())
    raw[4] = 9
    with pytest.raises(rdpkit.CorruptBitstream, match="version 9"):
        Bitstream.from_bytes(bytes(raw))


def container(head: bytes, payload: bytes = b"") -> bytes:
    """Bytes with a valid signature, version and CRC around any header: what from_bytes must judge."""
    return b"RDPK" + bytes([1]) + len(head).to_bytes(4, "big") + head + zlib.crc32(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize(
    "head",
    [b"5", b"null", b'"sq"', b"[1, 2]", b'{"codec": "sq", "shape": [1, 1, 1e999, 4]}', b'{"codec": "sq", "shape": [1, 1, "4", 4]}',
     b'{"codec": "sq", "shape": [1, true, 4, 4]}', b'{"codec": "sq", "shape": [1, 1, 4.5, 4]}', b'{"codec": "sq", "shape": [1, 1, 0, 4]}',
     b'{"codec": "sq", "shape": [1, -3, 4, 4]}', b'{"codec": 7, "shape": [1, 1, 4, 4]}', b'{"codec": "sq", "shape": 4}',
     b"[" * 100000 + b"]" * 100000, b'{"codec": "sq", "shape": [1, 1, 4, 4], "levels": ' + b"[" * 100000 + b"]" * 100000 + b"}"],
)
def test_damaged_headers_are_corrupt_bitstreams(head):
    with pytest.raises(rdpkit.CorruptBitstream, match="header") as err:
        Bitstream.from_bytes(container(head))
    assert str(err.value).count(". ") == 0


@pytest.mark.parametrize("data", [10**10, "RDPK", None, [82, 68, 80, 75]])
def test_from_bytes_refuses_what_is_not_bytes_without_allocating(data):
    with pytest.raises(rdpkit.InputError, match="bytes"):
        Bitstream.from_bytes(data)
