"""The gan codec's mechanics: quantiser, bitstreams, integer prior, files, determinism, resume.

Training runs here are tiny (tens of steps, narrow nets): they test the machinery, not the
trade-off. The rate-distortion-perception behaviour is in test_gan_codec_tradeoff.py.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from rdpkit_gan_codec import plugin, training
from rdpkit_gan_codec.codec import GanCodec
from rdpkit_gan_codec.quantizer import SoftToHardQuantizer

import rdpkit
import rdpkit.testing as rt
from rdpkit.bitstream import Bitstream
from rdpkit.data import digits

SMALL = {"hidden": 16, "critic_hidden": 16}


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks only lose from intra-op threads, and the CI machine is shared.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    return digits()[:400]


@pytest.fixture(scope="module")
def trained(data) -> GanCodec:
    torch.set_num_threads(1)
    return GanCodec(dim=3, levels=5, lam=0.05, noise=0.5, **SMALL).fit(data, steps=60, progress=False)


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    return trained.save(tmp_path_factory.mktemp("gan") / "codec.safetensors")


def test_registered_by_the_plugin(rdpkit_registry):
    rdpkit_registry.register(plugin, distribution="rdpkit-gan-codec")
    info = rdpkit_registry.info("codec", "gan")
    assert info.distribution == "rdpkit-gan-codec" and "ICML 2019" in info.citation
    codec = rdpkit_registry.create("codec", "gan", dim=2, levels=4, lam=0.5, distortion="mse", noise=0.3)
    assert codec.codec_name == "gan" and codec.nominal_bits == 4


def test_found_through_the_entry_point():
    assert "gan" in rdpkit.available("codec")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"dim": 0}, "dim must be an integer"), ({"levels": 1}, "levels must be"), ({"noise": 1.0}, "noise .* up to \\(not including\\) 1"),
     ({"lam": -1}, "lam"), ({"arch": "resnet"}, "arch must be one of"), ({"lr": 0}, "lr must be a positive"), ({"distortion": ""}, "distortion")],
)
def test_bad_options_are_one_sentence(options, message):
    with pytest.raises(rdpkit.InputError, match=message):
        GanCodec(**options)


def test_untrained_codec_says_so(data):
    with pytest.raises(rdpkit.RdpkitError, match="not trained; call fit"):
        GanCodec().encode(data[:2])


def test_fit_refuses_bad_data_and_distortions(data):
    with pytest.raises(rdpkit.InputError, match="values in"):
        GanCodec().fit(data * 16, steps=1, progress=False)
    with pytest.raises(rdpkit.InputError, match="at least 161×161"):
        GanCodec(distortion="ms-ssim").fit(data, steps=1, progress=False)
    with pytest.raises(rdpkit.UnknownNameError, match="mse"):
        GanCodec(distortion="msee").fit(data, steps=1, progress=False)
    with pytest.raises(rdpkit.InputError, match="steps must be a positive integer"):
        GanCodec().fit(data, steps=0, progress=False)


def test_quantizer_is_hard_forward_and_soft_backward():
    q = SoftToHardQuantizer(levels=5, sigma=2.0).double()
    z = torch.linspace(-1.2, 1.2, 41, dtype=torch.float64, requires_grad=True)
    values, idx = q(z)
    centers = torch.linspace(-1, 1, 5, dtype=torch.float64)
    nearest = (z.detach()[:, None] - centers).abs().argmin(1)
    assert torch.equal(idx, nearest)
    assert torch.allclose(values, centers[nearest], atol=1e-15, rtol=0)
    values.sum().backward()
    # Independent soft reference: d/dz Σ_j c_j softmax_j(−σ (z − c_j)² / Δ²).
    zz = z.detach().clone().requires_grad_(True)
    w = torch.softmax(-2.0 * ((zz[:, None] - centers) / 0.5) ** 2, dim=1)
    (w * centers).sum().backward()
    assert torch.allclose(z.grad, zz.grad, atol=1e-12, rtol=0)


def test_contract(trained, data):
    rt.check_codec(trained, data[:6])
    rt.check_codec(trained, data[:6].double())


def test_rate_is_measured_from_bytes_and_matches_the_prior(trained, data):
    x = data[:300]
    bits = trained.encode(x)
    rate = trained.rate(bits)
    assert rate["nominal_bits_per_image"] == pytest.approx(3 * math.log2(5))
    assert rate["bits_per_image"] == 8 * len(bits.to_bytes()) / 300
    # The range coder spends the cross-entropy of the indices under the integer prior, plus its final words.
    prior = trained.model.prior.double()
    idx = trained.indices(x)
    ideal = -sum(float(torch.log2(prior[j, idx[:, j]] / prior[j].sum()).sum()) for j in range(3))
    assert ideal - 1 <= 8 * len(bits.payload) <= ideal + 64


def test_prior_is_an_integer_table_fitted_to_the_training_indices(trained, data):
    prior = trained.model.prior
    assert prior.dtype == torch.int64 and torch.all(prior.sum(1) == 2**16) and int(prior.min()) >= 1
    idx = trained.indices(data)
    counts = torch.stack([torch.bincount(idx[:, j], minlength=5) for j in range(3)]).double()
    # Every frequency is 1 + its share of the remaining 2**16 − L, to within one unit.
    expected = 1 + counts / counts.sum(1, keepdim=True) * (2**16 - 5)
    assert (prior.double() - expected).abs().max() < 1 + 1e-9


def test_float64_and_float32_paths_read_the_same_indices(saved, data):
    x = data[:64]
    wide = GanCodec.load(saved).to(dtype=torch.float64)
    for device in rt.devices():
        narrow = GanCodec.load(saved, device=device)
        bits = wide.encode(x.double())
        assert torch.equal(narrow.read_indices(bits.to_bytes()), wide.indices(x.double()).cpu())
        assert torch.allclose(narrow.decode(bits, seed=3).cpu().double(), wide.decode(bits, seed=3).cpu(), atol=1e-5, rtol=0)
        if torch.equal(narrow.indices(x).cpu(), wide.indices(x.double()).cpu()):
            assert narrow.encode(x).payload == bits.payload  # integer tables: the same bytes from either path


def test_save_and_load_round_trip(trained, saved, data):
    loaded = GanCodec.load(saved)
    assert loaded.config == trained.config and loaded.fingerprint == trained.fingerprint
    bits = trained.encode(data[:20])
    assert torch.equal(loaded.decode(bits, seed=5), trained.decode(bits, seed=5))
    assert loaded.encode(data[:20]).to_bytes() == bits.to_bytes()


def test_bits_from_another_model_are_refused(trained, data):
    other = GanCodec(dim=3, levels=5, **SMALL).fit(data, steps=5, seed=1, progress=False)
    with pytest.raises(rdpkit.CorruptBitstream, match="written by gan model"):
        other.decode(trained.encode(data[:4]))


def test_damaged_model_file_is_one_sentence(saved, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(rdpkit.InputError, match="not a readable gan codec file"):
        GanCodec.load(broken)
    with pytest.raises(rdpkit.InputError, match="does not exist"):
        GanCodec.load(tmp_path / "missing.safetensors")


def test_decoding_uses_the_seed_and_the_noise(trained, data):
    bits = trained.encode(data[:8])
    assert torch.equal(trained.decode(bits, seed=1), trained.decode(bits, seed=1))
    assert not torch.equal(trained.decode(bits, seed=1), trained.decode(bits, seed=2))
    assert not torch.equal(trained.decode(bits), trained.decode(bits))


def test_noise_stays_inside_the_quantisation_bin(trained):
    n = trained.model.uniform_noise(torch.Size((20000, 3)), torch.Generator().manual_seed(0))
    half = 0.5 * 0.5 * trained.config.bin_width  # α/2 bins, α = 0.5
    assert float(n.abs().max()) <= half and float(n.abs().max()) > 0.95 * half
    assert abs(float(n.mean())) < 0.01 * half


def test_zero_noise_gives_a_deterministic_decoder(data):
    codec = GanCodec(dim=2, levels=3, noise=0.0, **SMALL).fit(data, steps=5, progress=False)
    bits = codec.encode(data[:8])
    assert torch.equal(codec.decode(bits, seed=1), codec.decode(bits, seed=2))


def test_training_is_deterministic_under_a_seed_on_cpu(data):
    def weights(seed: int) -> dict[str, torch.Tensor]:
        codec = GanCodec(dim=2, levels=4, lam=0.1, **SMALL).fit(data, steps=20, seed=seed, device="cpu", progress=False)
        return codec.model.state_dict()

    a, b, c = weights(0), weights(0), weights(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_continues_exactly(data, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "CHECKPOINT_EVERY", 10)
    options = {"dim": 2, "levels": 4, "lam": 0.1, **SMALL}
    straight = GanCodec(**options).fit(data, steps=30, progress=False)
    path = tmp_path / "run.pt"
    GanCodec(**options).fit(data, steps=20, checkpoint=path, progress=False)  # "interrupted" after 20 steps
    resumed = GanCodec(**options).fit(data, steps=30, checkpoint=path, progress=False)
    assert resumed.fingerprint == straight.fingerprint
    assert [h["step"] for h in resumed.history] == [10, 20, 30]
    again = GanCodec(**options).fit(data, steps=30, checkpoint=path, progress=False)  # finished: just reloads
    assert again.fingerprint == straight.fingerprint
    with pytest.raises(rdpkit.InputError, match="already trained 30 steps, more than steps=20"):
        GanCodec(**options).fit(data, steps=20, checkpoint=path, progress=False)


def test_damaged_or_foreign_checkpoints_are_one_sentence(data, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "CHECKPOINT_EVERY", 5)
    path = tmp_path / "run.pt"
    GanCodec(dim=2, **SMALL).fit(data, steps=5, checkpoint=path, progress=False)
    with pytest.raises(rdpkit.InputError, match="belongs to another run \\(config"):
        GanCodec(dim=3, **SMALL).fit(data, steps=10, checkpoint=path, progress=False)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(rdpkit.InputError, match="damaged or not a gan-codec checkpoint"):
        GanCodec(dim=2, **SMALL).fit(data, steps=10, checkpoint=path, progress=False)
    GanCodec(dim=2, **SMALL).fit(data, steps=5, checkpoint=path, resume=False, progress=False)  # overwrites it


def test_images_of_another_size_are_refused(trained):
    with pytest.raises(rdpkit.InputError, match="trained on 1×8×8 images"):
        trained.encode(torch.rand(1, 1, 16, 16))


def test_conv_architecture_codes_larger_images():
    x = rdpkit.load_image("builtin:astronaut", size=32).repeat(4, 1, 1, 1)
    codec = GanCodec(dim=8, levels=4, hidden=8, lam=0.1, critic_hidden=8).fit(x, steps=3, progress=False)
    rt.check_codec(codec, x[:2])


def test_constructor_defaults_are_the_config_defaults():
    import inspect

    from rdpkit_gan_codec.config import GanConfig

    params = inspect.signature(GanCodec).parameters
    assert {k: p.default for k, p in params.items()} == {k: getattr(GanConfig(), k) for k in params}


@pytest.mark.parametrize("seed", ["a", 1.5, True, 2**64, -(2**63) - 1, torch.tensor(0.5)])
def test_decode_refuses_a_seed_that_is_not_an_integer(trained, data, seed):
    with pytest.raises(rdpkit.InputError, match="seed must be an integer") as err:
        trained.decode(trained.encode(data[:2]), seed=seed)
    assert str(err.value).count(". ") == 0


def test_decode_takes_every_integer_seed_torch_takes(trained, data):
    bits = trained.encode(data[:2])
    for seed in (0, -1, -(2**63), 2**64 - 1, np.int64(7), torch.tensor(7)):
        assert trained.decode(bits, seed=seed).shape == (2, 1, 8, 8)


@pytest.mark.parametrize(("device", "message"), [("bogus", "not a torch device"), ("cuda", "asks for a GPU"), ("meta", "not supported"), (3, "device must be a name")])
def test_fit_checks_the_device_before_any_work(data, monkeypatch, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("rdpkit_gan_codec.codec.new_run", lambda *a, **k: pytest.fail("fit started work on a device it had not checked"))
    with pytest.raises(rdpkit.InputError, match=message):
        GanCodec(**SMALL).fit(data, steps=1, device=device, progress=False)


def test_load_and_to_check_the_device(saved, trained, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(rdpkit.InputError, match="not a torch device"):
        GanCodec.load(saved, device="bogus")
    with pytest.raises(rdpkit.InputError, match="asks for a GPU"):
        GanCodec.load(saved, device="cuda:0")
    with pytest.raises(rdpkit.InputError, match="not a torch device"):
        trained.to("bogus")


def forge(bits: Bitstream, payload: bytes | None = None, shape: tuple[int, ...] | None = None, **header) -> bytes:
    """A bitstream with a valid CRC but altered contents."""
    return Bitstream(bits.codec, shape or bits.shape, bits.payload if payload is None else payload, {**bits.header, **header}).to_bytes()


def test_damaged_bitstreams_are_corrupt_bitstreams(trained, data):
    bits = trained.encode(data[:50])
    rng = np.random.default_rng(0)
    damaged = [forge(bits, payload=rng.bytes(4 * int(rng.integers(1, 40)))) for _ in range(100)]
    damaged += [forge(bits, payload=bits.payload[:-4]), forge(bits, payload=b""), forge(bits, payload=bits.payload + b"\0\0\0\1")]
    damaged += [forge(bits, shape=(51, 1, 8, 8)), forge(bits, dim=True), forge(bits, levels=-5), forge(bits, dtype="int64"), forge(bits, model=None)]
    for raw in damaged:
        with pytest.raises(rdpkit.CorruptBitstream) as err:
            trained.decode(raw, seed=0)
        assert str(err.value).endswith(".") and str(err.value).count(". ") == 0


@pytest.mark.parametrize("n", [10**6, 2**40])
def test_a_header_announcing_more_images_than_the_payload_holds_is_refused_before_allocating(trained, data, n):
    raw = forge(trained.encode(data[:2]), shape=(n, 1, 8, 8))
    tracemalloc.start()
    try:
        with pytest.raises(rdpkit.CorruptBitstream, match="cannot hold|ends before"):
            trained.decode(raw, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20
