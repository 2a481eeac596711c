"""The compressai-model adapter: any model with CompressAI's compress/decompress protocol, in rdpkit's container."""

from __future__ import annotations

import struct

import pytest
import torch
from rdpkit_learned_codecs.codecs.adapter import (
    CompressAIProtocolCodec,
    ProtocolView,
    pack,
    unpack,
)

import rdpkit.testing as rt
from rdpkit.bitstream import Bitstream
from rdpkit.errors import CorruptBitstream, InputError


class Toy(torch.nn.Module):
    """A CompressAI-protocol model: 4-bit quantisation of 2×2 block means, one string per image and per 'entropy model'."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(15.0))

    def compress(self, x):
        q = torch.round(torch.nn.functional.avg_pool2d(x, 2) * self.scale).to(torch.uint8)
        return {"strings": [[bytes(q[i].numpy().tobytes()) for i in range(x.shape[0])], [b"side"] * x.shape[0]], "shape": list(q.shape[-2:])}

    def decompress(self, strings, shape):
        h, w = shape
        q = torch.stack([torch.frombuffer(bytearray(s), dtype=torch.uint8).reshape(3, h, w) for s in strings[0]]).float()
        return {"x_hat": torch.nn.functional.interpolate(q / self.scale, scale_factor=2)}


def test_contract_and_reconstruction(photo):
    codec = CompressAIProtocolCodec(Toy(), stride=2)
    rt.check_codec(codec, x=photo)
    x_hat = codec.decode(codec.encode(photo).to_bytes())
    ref = torch.nn.functional.interpolate(torch.round(torch.nn.functional.avg_pool2d(photo, 2) * 15) / 15, scale_factor=2)
    torch.testing.assert_close(x_hat, ref.clamp(0, 1))


def test_payload_layout_round_trips_and_refuses_forged_lengths():
    strings = [[b"abc", b""], [b"z" * 300, b"q"]]
    data = pack(strings)
    assert unpack(data, 2) == strings
    forged = data[:5] + struct.pack(">I", 10**9) + data[9:]
    with pytest.raises(CorruptBitstream, match="only"):
        unpack(forged, 2)
    with pytest.raises(CorruptBitstream):
        unpack(data + b"x", 2)
    with pytest.raises(CorruptBitstream):
        unpack(data, 3)


def test_a_bitstream_of_another_model_or_a_failing_decompress_is_one_sentence(photo):
    a, b = CompressAIProtocolCodec(Toy(), stride=2), Toy()
    with torch.no_grad():
        b.scale.fill_(7.0)
    bits = a.encode(photo)
    with pytest.raises(CorruptBitstream, match="written by model"):
        CompressAIProtocolCodec(b, stride=2).decode(bits.to_bytes())
    broken = Bitstream(bits.codec, bits.shape, pack([[b"\x01\x02"], [b"side"]]), bits.header).to_bytes()
    with pytest.raises(CorruptBitstream, match="decompress failed"):
        a.decode(broken)
    huge = Bitstream(bits.codec, (1, 3, 10**6, 10**6), bits.payload, bits.header).to_bytes()
    with pytest.raises(CorruptBitstream, match="max_pixels"):
        a.decode(huge)


def test_models_without_the_protocol_or_factories_that_do_not_import_are_refused():
    with pytest.raises(InputError, match="compress"):
        CompressAIProtocolCodec(torch.nn.Linear(2, 2))
    with pytest.raises(InputError, match="would import and run that code"):  # untrusted; trusted ones: test_untrusted_inputs.py
        CompressAIProtocolCodec("no_such_module:build")


def test_rdpkit_codecs_through_the_protocol(tiny_codecs, photo):
    view = ProtocolView(tiny_codecs["hyperprior"])
    codec = CompressAIProtocolCodec(view)
    torch.testing.assert_close(codec.decode(codec.encode(photo).to_bytes()), tiny_codecs["hyperprior"].decode(tiny_codecs["hyperprior"].encode(photo)))
