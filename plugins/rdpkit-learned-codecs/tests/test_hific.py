"""The hific codec: the rdpkit contract, the stochastic decoder under its seed, the hyperprior's bit-exact bitstream,
files, and one-sentence refusals of bad options; the weighted-sum distortion it trains with, and the audit that sees it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdpkit_learned_codecs import plugin
from rdpkit_learned_codecs.codecs.hific import HificCodec
from rdpkit_learned_codecs.models.hific_config import distortion_component
from rdpkit_learned_codecs.weighted_sum import WeightedSum

import rdpkit
import rdpkit.testing as rt
from rdpkit.errors import CorruptBitstream, InputError, WeightsUnavailable
from rdpkit.options import Component

TINY = {"channels": 8, "latent_channels": 12}
FIT = {"steps": 3, "batch_size": 2, "crop": 64, "progress": False, "device": "cpu"}


@pytest.fixture(scope="module")
def tiny() -> dict[str, HificCodec]:
    torch.set_num_threads(1)
    return {
        "stochastic": HificCodec(lam_p=0.5, noise=0.5, **TINY).fit("builtin:training", **FIT),
        "deterministic": HificCodec(lam_p=0.0, **TINY).fit("builtin:training", **FIT),
        "residual": HificCodec(lam_p=0.5, synthesis="hific", synthesis_channels=16, blocks=1, **TINY).fit("builtin:training", **FIT),
    }


@pytest.fixture
def photo() -> torch.Tensor:
    from rdpkit.data import load_image

    return load_image("builtin:coffee", size=(72, 100))


@pytest.fixture
def registry(rdpkit_registry):
    rdpkit_registry.register(plugin, distribution="rdpkit-learned-codecs")
    return rdpkit_registry


def test_contract_of_an_untrained_codec_fitted_on_digits(registry):
    codec = registry.create("codec", "hific", lam_p=0.5, noise=0.25, **TINY)
    assert codec.learnable and not codec.fitted and codec.stochastic
    rt.check_codec(codec)


@pytest.mark.parametrize("kind", ["stochastic", "deterministic", "residual"])
def test_contract_of_trained_codecs_on_photographs(tiny, kind):
    rt.check_codec(tiny[kind])


def test_the_stochastic_decoder_is_reproducible_under_its_seed_and_uses_it(tiny, photo, tmp_path):
    codec = tiny["stochastic"]
    raw = codec.encode(photo).to_bytes()
    a, b = codec.decode(raw, seed=7), codec.decode(raw, seed=7)
    assert torch.equal(a, b)
    assert float((a - codec.decode(raw, seed=8)).abs().max()) > 1e-3
    assert float((a - codec.decode(raw)).abs().max()) > 1e-3  # no seed: fresh noise
    # The noise is drawn in float64 on the CPU: a float64 decoder sees the same noise as a float32 one.
    codec.save(tmp_path / "h.safetensors")
    f64 = HificCodec(weights=str(tmp_path / "h.safetensors")).to(dtype=torch.float64)
    torch.testing.assert_close(f64.decode(raw, seed=7).float(), a, rtol=0, atol=1e-5)
    with pytest.raises(InputError, match="seed must be an integer"):
        codec.decode(raw, seed=1.5)


def test_a_deterministic_decoder_ignores_the_seed(tiny, photo):
    codec = tiny["deterministic"]
    assert not codec.stochastic
    raw = codec.encode(photo).to_bytes()
    assert torch.equal(codec.decode(raw, seed=1), codec.decode(raw, seed=2))


def test_the_bitstream_is_the_hyperprior_s_and_decodes_bit_exactly_across_precisions(tiny, photo, tmp_path):
    codec = tiny["stochastic"]
    path = tmp_path / "h.safetensors"
    codec.save(path)
    f32, f64 = HificCodec(weights=str(path)), HificCodec(weights=str(path)).to(dtype=torch.float64)
    assert f32.fingerprint == f64.fingerprint == codec.fingerprint
    raw = f64.encode(photo.double()).to_bytes()
    a, b = f32.symbols(raw), f64.symbols(raw)
    assert a.keys() == b.keys() == {"y", "z", "table"} and all(np.array_equal(a[k], b[k]) for k in a)
    torch.testing.assert_close(f32.decode(raw, seed=3).double(), f64.decode(raw, seed=3), rtol=0, atol=1e-5)
    # A bitstream of one member of a pair is never decoded by the other.
    with pytest.raises(CorruptBitstream, match="decode it with the model that wrote it"):
        tiny["residual"].decode(raw)


def test_rate_report_and_likelihood(tiny, photo):
    r = tiny["stochastic"].rate(photo)
    assert r.rate.bits_per_image == 8 * r.rate.bytes and r.estimated_bits_per_image > 0


def test_saved_files_are_verified(tiny, tmp_path):
    path = tmp_path / "h.safetensors"
    tiny["deterministic"].save(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsUnavailable, match="damaged or was replaced"):
        HificCodec(weights=str(path))
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        HificCodec(weights=str(tmp_path / "none.safetensors"))


def test_a_hyperprior_file_is_a_start_not_a_hific_model(tmp_path):
    from rdpkit_learned_codecs.codecs.transform import HyperpriorCodec

    path = tmp_path / "hp.safetensors"
    HyperpriorCodec(channels=8, latent_channels=12).fit("builtin:training", **FIT).save(path)
    with pytest.raises(InputError, match="start a hific codec from it"):
        HificCodec(weights=str(path))
    assert HificCodec(start=str(path), lam_p=0.5).learnable


@pytest.mark.parametrize("options, match", [
    ({"lam_p": -1, **TINY}, "lam_p"),
    ({"noise": 1.0, **TINY}, "noise"),
    ({"synthesis": "unet", **TINY}, "synthesis must be one of"),
    ({"lam_d": 0, **TINY}, "lam_d"),
    ({"target_bpp": -0.1, **TINY}, "target_bpp"),
    ({"distortion": [["mse", 1.0], ["ssim", -2]], **TINY}, "weight of 'ssim' must be a positive number"),
    ({"distortion": "mse,oops", **TINY}, "not KEY=VALUE"),
    ({"start": "shipped", "quality": 9}, "quality must be an integer from 1 to 5"),
    ({"start": "shipped", "quality": 1, "channels": 32}, "differs from the start's channels"),
    ({"start": 3}, "start must be 'shipped' or the path"),
    ({"quality": 3, **TINY}, "leave it out"),
])
def test_bad_options_are_one_sentence(options, match):
    with pytest.raises(InputError, match=match):
        HificCodec(**options)


def test_a_distortion_that_cannot_train_is_refused_before_training(monkeypatch):
    with pytest.raises(InputError, match="needs images of at least 161"):
        HificCodec(distortion="ms-ssim", **TINY).fit("builtin:training", **FIT)
    flat = rt.fresh_registry()

    class Plugin:
        @staticmethod
        @rdpkit.hookimpl
        def rdpkit_distortions():
            return [rdpkit.Spec("rank-only", "rdpkit.distortions:MSE", differentiable=False)]

    flat.register(Plugin, distribution="rdpkit-test")
    monkeypatch.setattr(rdpkit.registry, "get_registry", lambda: flat)
    with pytest.raises(InputError, match="not differentiable, so it cannot train a codec"):
        HificCodec(distortion="rank-only", **TINY).fit("builtin:training", **FIT)


def test_a_not_shipped_pair_member_is_one_sentence():
    with pytest.raises(WeightsUnavailable, match="no hific model is shipped for quality=4"):
        HificCodec(quality=4, lam_p=0.123)


def test_loaded_codecs_are_not_retrained(tiny, tmp_path):
    path = tmp_path / "h.safetensors"
    tiny["deterministic"].save(path)
    loaded = HificCodec(weights=str(path))
    assert loaded.fitted and not loaded.learnable and loaded.hific == tiny["deterministic"].hific
    with pytest.raises(InputError, match="loaded ready to code"):
        loaded.fit("builtin:training", steps=1)
    with pytest.raises(InputError, match="was trained with lam_p=0"):
        HificCodec(weights=str(path), lam_p=0.5)


# -- the distortions it trains with, and the audit ----------------------------------------------


def test_weighted_sum_is_the_weighted_sum_of_its_terms_and_obeys_the_axioms(photo):
    d = WeightedSum([["mse", 2.0], ["ssim", 0.5]])
    y = (photo + 0.05 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    want = 2.0 * rdpkit.distortion("mse")(photo, y) + 0.5 * rdpkit.distortion("ssim")(photo, y)
    torch.testing.assert_close(d(photo, y), want, rtol=1e-6, atol=0)
    assert d.min_size == rdpkit.distortion("ssim").min_size
    rt.check_distortion(d)
    with pytest.raises(InputError, match="cannot hold another weighted-sum"):
        WeightedSum([["weighted-sum", 1.0]])
    with pytest.raises(InputError, match="terms must be a non-empty list"):
        WeightedSum("mse")


def test_the_audit_sees_every_distortion_the_codec_can_be_trained_with():
    """Every single distortion hific accepts is one the audit selects by default, and the weighted sums it trains
    with are components the recovery test runs, by the very string the codec records."""
    from rdpkit_learned_codecs.weighted_sum import check_trainable

    from rdpkit.recovery.audit import select_distortions
    from rdpkit.recovery.run import make_settings
    from rdpkit.recovery.trial import RecoveryTrial

    registry = rdpkit.registry.get_registry()
    audited = {str(c) for c in select_distortions(None, None, registry)}
    for name in registry.names("distortion"):
        try:
            check_trainable(Component(name), registry)
        except InputError:
            assert name not in audited, f"the audit would audit {name!r}, which hific refuses to train with"
            continue
        assert name in audited, f"hific can be trained with {name!r} but the audit does not select it"
    trained_with = distortion_component([["mse", 1.0], ["ssim", 0.25]])
    (component,) = select_distortions([trained_with], None, registry)
    trial = RecoveryTrial.make(component, ("builtin:astronaut", "noise"), make_settings(None, {"size": 32, "steps": 5}), registry)
    assert trial.run("cpu", registry).verdict  # the recovery test runs it like any distortion
