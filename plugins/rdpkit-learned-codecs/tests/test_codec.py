"""The factorized and hyperprior codecs: the rdpkit contract, the interface axioms under hypothesis, bit-exact
decoding across precisions and devices, and one-sentence refusals of bad bitstreams, files and options."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdpkit_learned_codecs import plugin
from rdpkit_learned_codecs.codecs.transform import FactorizedCodec, HyperpriorCodec

import rdpkit
import rdpkit.testing as rt
from rdpkit.bitstream import Bitstream
from rdpkit.errors import CorruptBitstream, InputError, WeightsUnavailable

KINDS = ["factorized", "hyperprior", "mean-scale"]


@pytest.fixture
def registry(rdpkit_registry):
    rdpkit_registry.register(plugin, distribution="rdpkit-learned-codecs")
    return rdpkit_registry


@pytest.mark.parametrize("name", ["factorized", "hyperprior"])
def test_contract_of_an_untrained_codec_fitted_on_digits(registry, name):
    # check_codec fits the quick_fit on 8×8 grey digits: padding, grey images and fit() at once.
    rt.check_codec(registry.create("codec", name, channels=8, latent_channels=12))


@pytest.mark.parametrize("kind", KINDS)
def test_contract_of_trained_codecs_on_photographs(tiny_codecs, kind):
    rt.check_codec(tiny_codecs[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_interface_axioms(tiny_codecs, kind):
    """Any size and batch, grey or RGB, float32 or float64: bytes round-trip, decoded shape/dtype/range,
    deterministic decoding, each image's reconstruction independent of the batch, rate from the bytes."""
    codec = tiny_codecs[kind]

    @settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(n=st.integers(1, 2), c=st.sampled_from([1, 3]), h=st.integers(1, 70), w=st.integers(1, 70),
           dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
    def axioms(n, c, h, w, dtype, seed):
        x = torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)
        bits = codec.encode(x)
        raw = bits.to_bytes()
        assert bits.num_bytes == len(raw) and bits.bpp == pytest.approx(8 * len(raw) / (n * h * w))
        y = codec.decode(raw)
        assert y.shape == x.shape and y.dtype == x.dtype and 0 <= float(y.min()) and float(y.max()) <= 1
        assert torch.equal(y, codec.decode(raw))
        first = codec.decode(codec.encode(x[:1]).to_bytes())
        torch.testing.assert_close(first, y[:1], rtol=0, atol=1e-5)

    axioms()


def _cross(codec, other, x):
    """Encode on `codec`, decode on both: the same integers, reconstructions equal up to g_s's float precision."""
    raw = codec.encode(x).to_bytes()
    a, b = codec.symbols(raw), other.symbols(raw)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    torch.testing.assert_close(codec.decode(raw).double(), other.decode(raw).double(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bitstream_decodes_bit_exactly_across_precisions(tiny_codecs, kind, photo, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_codecs[kind].save(path)
    mean = kind == "mean-scale"
    cls = FactorizedCodec if kind == "factorized" else HyperpriorCodec
    f32 = cls(weights=str(path)) if cls is FactorizedCodec else cls(weights=str(path), mean=mean)
    f64 = (cls(weights=str(path)) if cls is FactorizedCodec else cls(weights=str(path), mean=mean)).to(dtype=torch.float64)
    assert f32.fingerprint == f64.fingerprint == tiny_codecs[kind].fingerprint
    _cross(f64, f32, photo.double())  # encoded in float64, decoded in float32
    _cross(f32, f64, photo)  # and the other way


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: the GPU encode/decode path is tested where one is present")
@pytest.mark.parametrize("kind", KINDS)
def test_a_bitstream_decodes_bit_exactly_between_gpu_and_cpu(tiny_codecs, kind, photo, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_codecs[kind].save(path)
    kw = {} if kind == "factorized" else {"mean": kind == "mean-scale"}
    cls = FactorizedCodec if kind == "factorized" else HyperpriorCodec
    cpu, gpu = cls(weights=str(path), **kw), cls(weights=str(path), **kw).to("cuda")
    _cross(gpu, cpu, photo.cuda())
    _cross(cpu, gpu, photo)


def test_variable_rate_codes_at_the_asked_rate(tiny_codecs, photo, tmp_path):
    path = tmp_path / "vr.safetensors"
    tiny_codecs["hyperprior"].save(path)
    low, high = HyperpriorCodec(weights=str(path), quality=1), HyperpriorCodec(weights=str(path), quality=2)
    bits = high.encode(photo)
    assert bits.header["rate"] == 1
    # The header's rate, not the decoder's own quality, selects the inverse gains.
    torch.testing.assert_close(low.decode(bits.to_bytes()), high.decode(bits.to_bytes()))
    with pytest.raises(InputError, match="quality"):
        HyperpriorCodec(weights=str(path), quality=3)


def test_rate_report_sets_the_bytes_beside_the_likelihood(tiny_codecs, photo):
    r = tiny_codecs["hyperprior"].rate(photo)
    assert r.rate.bits_per_image == 8 * r.rate.bytes
    assert r.table_bits_per_image <= r.rate.payload_bits_per_image + 64  # the coder writes what the tables assign, in whole words
    assert r.gap_bits_per_image == pytest.approx(r.rate.bits_per_image - r.estimated_bits_per_image)


# -- bad bitstreams -------------------------------------------------------------------------


def _forged(bits: Bitstream, **header) -> bytes:
    head = {**bits.header, **{k: v for k, v in header.items() if k != "shape"}}
    return Bitstream(bits.codec, header.get("shape", bits.shape), bits.payload, head).to_bytes()


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_bitstreams_are_one_sentence(tiny_codecs, kind, photo):
    codec = tiny_codecs[kind]
    bits = codec.encode(photo)
    raw = bits.to_bytes()
    cases = {
        "truncated": raw[:-5],
        "flipped byte": raw[:-3] + bytes([raw[-3] ^ 0x10]) + raw[-2:],
        "payload cut, CRC redone": Bitstream(bits.codec, bits.shape, bits.payload[:-4], bits.header).to_bytes(),
        "payload grown, CRC redone": Bitstream(bits.codec, bits.shape, bits.payload + bytes(4), bits.header).to_bytes(),
        "rate out of range": _forged(bits, rate=7),
        "unknown dtype": _forged(bits, dtype="int8"),
        "four channels": _forged(bits, shape=(1, 4, 72, 100)),
        "huge image": _forged(bits, shape=(1, 3, 10**6, 10**6)),
        "other size": _forged(bits, shape=(1, 3, 300, 300)),
    }
    for what, data in cases.items():
        with pytest.raises(CorruptBitstream) as info:
            codec.decode(data)
        assert str(info.value).endswith("."), what


def test_a_bitstream_of_another_model_is_refused(tiny_codecs, photo):
    other = FactorizedCodec(channels=8, latent_channels=12).fit("builtin:training", steps=1, batch_size=1, crop=32, progress=False, seed=5)
    with pytest.raises(CorruptBitstream, match="written by factorized model"):
        other.decode(tiny_codecs["factorized"].encode(photo).to_bytes())
    with pytest.raises(CorruptBitstream, match="written by codec 'hyperprior'"):
        other.decode(tiny_codecs["hyperprior"].encode(photo).to_bytes())


# -- files ----------------------------------------------------------------------------------


def _rewrite(path, change):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta, state = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    change(state)
    save_file(state, str(path), metadata=meta)
    path.with_suffix(".json").unlink(missing_ok=True)


def test_files_whose_tables_do_not_match_their_weights_are_refused(tiny_codecs, tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    tiny_codecs["factorized"].save(a)
    FactorizedCodec(channels=8, latent_channels=12).fit("builtin:training", steps=1, batch_size=1, crop=32, progress=False, seed=9).save(b)
    from safetensors import safe_open

    with safe_open(str(b), framework="pt") as f:
        foreign = {k: f.get_tensor(k) for k in f.keys() if "table" in k}  # noqa: SIM118
    _rewrite(a, lambda state: state.update(foreign))
    with pytest.raises(InputError, match="tables stored in .* do not match its weights"):
        FactorizedCodec(weights=str(a))


def test_damaged_or_non_finite_files_are_one_sentence(tiny_codecs, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_codecs["hyperprior"].save(path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(data))
    damaged.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(WeightsUnavailable, match="sha256"):
        HyperpriorCodec(weights=str(damaged))
    record = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**record, "sha256": ""}))
    with pytest.raises(WeightsUnavailable, match="not 64 hexadecimal digits"):
        HyperpriorCodec(weights=str(path))
    _rewrite(path, lambda state: state["g_s.0.weight"].view(-1).__setitem__(0, float("nan")))
    with pytest.raises(WeightsUnavailable, match="non-finite"):
        HyperpriorCodec(weights=str(path))
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        HyperpriorCodec(weights=str(tmp_path / "missing.safetensors"))
    intact = tmp_path / "intact.safetensors"
    tiny_codecs["hyperprior"].save(intact)
    with pytest.raises(InputError, match="holds a hyperprior model"):
        FactorizedCodec(weights=str(intact))


@pytest.mark.parametrize("options, match", [
    ({"channels": 0}, "channels"), ({"lam": -1}, "lam"), ({"lam": [0.1, 0.1]}, "lam"), ({"quality": 3, "lam": [0.1, 0.2]}, "quality"),
    ({"weights": 3}, "weights"), ({"weights": "shipped", "channels": 64}, "set by the loaded weights"), ({"max_pixels": 0}, "max_pixels"),
])
def test_bad_options_are_one_sentence(options, match):
    with pytest.raises((InputError, WeightsUnavailable), match=match):
        HyperpriorCodec(**options)


def test_coding_before_training_says_what_to_do(photo):
    with pytest.raises(rdpkit.RdpkitError, match="not trained; call fit"):
        HyperpriorCodec(channels=8, latent_channels=12).encode(photo)


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_bitstreams_raise_only_rdpkit_errors(tiny_codecs, kind, photo):
    codec = tiny_codecs[kind]
    bits = codec.encode(photo[..., :40, :40])

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6), st.integers(0, 3))
    def fuzz(edits, cut):
        payload = bytearray(bits.payload)
        for pos, value in edits:
            payload[pos % len(payload)] = value
        forged = Bitstream(bits.codec, bits.shape, bytes(payload[: len(payload) - 4 * cut]), bits.header)
        try:
            y = codec.decode(forged.to_bytes())
        except rdpkit.RdpkitError:
            return
        assert y.shape == (1, 3, 40, 40) and 0 <= float(y.min()) and float(y.max()) <= 1

    fuzz()
