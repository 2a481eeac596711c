"""The bitstream container: round trip, and a clear error for every kind of damage."""

from __future__ import annotations

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
