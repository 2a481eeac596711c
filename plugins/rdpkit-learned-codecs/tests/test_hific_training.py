"""Training hific: deterministic under a seed on the CPU, resumable exactly, started from a distortion-only model,
data-parallel (two CPU processes with gloo) equal to one process with the combined batch; the train command's record."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from rdpkit_learned_codecs.cli import main
from rdpkit_learned_codecs.codecs.hific import HificCodec
from rdpkit_learned_codecs.codecs.transform import HyperpriorCodec
from rdpkit_learned_codecs.models.start import load_start
from rdpkit_learned_codecs.networks.hific_model import HificModel, Noise
from rdpkit_learned_codecs.training.crops import Crops

import rdpkit
from rdpkit.errors import InputError

SMALL = {"channels": 4, "latent_channels": 6, "lam_p": 0.5, "noise": 0.5, "target_bpp": 0.5, "discriminator_channels": 4}
FIT = {"batch_size": 2, "crop": 32, "progress": False, "device": "cpu"}


def _weights(codec):
    return {k: v.clone() for k, v in codec.model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_under_a_seed_and_resumes_exactly(tmp_path, monkeypatch):
    a = HificCodec(**SMALL).fit("builtin:training", steps=4, seed=3, **FIT)
    b = HificCodec(**SMALL).fit("builtin:training", steps=4, seed=3, **FIT)
    assert _same(_weights(a), _weights(b)) and a.fingerprint == b.fingerprint and a.history == b.history
    c = HificCodec(**SMALL).fit("builtin:training", steps=4, seed=4, **FIT)
    assert not _same(_weights(a), _weights(c))
    assert {"gan", "d_loss", "d_real", "d_fake", "rate_weight"} <= a.history[-1].keys()
    # Killed in step 101 (after the checkpoint of step 100), then resumed: the same as 101 steps at once,
    # discriminator, both optimisers, the rate weight and the random generators included.
    ckpt = tmp_path / "run.pt"
    draw, calls = Crops.batch, []

    def killed_at_101(self, *args):
        calls.append(1)
        if len(calls) == 101:
            raise KeyboardInterrupt
        return draw(self, *args)

    monkeypatch.setattr(Crops, "batch", killed_at_101)
    with pytest.raises(KeyboardInterrupt):
        HificCodec(**SMALL).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)
    monkeypatch.setattr(Crops, "batch", draw)
    resumed = HificCodec(**SMALL).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)
    straight = HificCodec(**SMALL).fit("builtin:training", steps=101, seed=1, **FIT)
    assert _same(_weights(resumed), _weights(straight)) and resumed.history == straight.history
    assert straight.history[-1]["rate_weight"] != 1.0  # the rate target moved λ_r
    with pytest.raises(InputError, match="belongs to another run"):
        HificCodec(**{**SMALL, "lam_p": 0.25}).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)
    ckpt.write_bytes(ckpt.read_bytes()[:-100])
    with pytest.raises(InputError, match="damaged"):
        HificCodec(**SMALL).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)


def test_a_start_at_one_rate_of_a_variable_rate_hyperprior_reconstructs_as_it_does():
    """Folding the gains of quality 2 into the transforms gives the hyperprior at quality 2 (up to float rounding)."""
    hyperprior = rdpkit.codec("hyperprior", quality=2)
    start = load_start("shipped", 2)
    model = HificModel(_config_of(start))
    model.load_state_dict({k: v for k, v in start.state.items()}, strict=False)
    x = rdpkit.data.load_image("builtin:astronaut", size=128)
    rate = torch.tensor([1])
    with torch.no_grad():
        want = hyperprior.model.reconstruct(torch.round(hyperprior.model.latent(x, rate)), rate)
        got = model.generate(torch.round(model.g_a(x)))
        y_want, y_got = hyperprior.model.latent(x, rate), model.g_a(x)
    torch.testing.assert_close(y_got, y_want, rtol=1e-4, atol=1e-4)
    assert float((got - want).abs().max()) < 0.05 and float((got - want).pow(2).mean()) < 1e-6


def _config_of(start):
    from rdpkit_learned_codecs.models.hific_config import HificConfig

    c = start.config
    return HificConfig(channels=c.channels, latent_channels=c.latent_channels, lam_d=c.lams[0] * 255**2)


def test_training_starts_from_a_distortion_only_model(tmp_path):
    path = tmp_path / "hp.safetensors"
    HyperpriorCodec(channels=4, latent_channels=6, lam=[0.01, 0.05]).fit("builtin:training", steps=2, **FIT).save(path)
    codec = HificCodec(start=str(path), quality=2, lam_p=0.5, discriminator_channels=4)
    assert codec.hific.channels == 4 and codec.hific.lam_d == pytest.approx(0.05 * 255**2)  # the start's own trade-off
    with pytest.raises(InputError, match="pass quality=1..2"):
        HificCodec(start=str(path), lam_p=0.5)
    from rdpkit_learned_codecs.training.hific import HificSchedule, new_run

    run = new_run(codec.hific, codec._start, 0, torch.device("cpu"), HificSchedule(1))
    for name, value in codec._start.state.items():
        assert torch.equal(run.model.state_dict()[name], value), name
    # A hific model trained with λ_p = 0 is a start too: its generator included.
    twin = HificCodec(start=str(path), quality=2, lam_p=0.0).fit("builtin:training", steps=2, **FIT)
    twin.save(tmp_path / "twin.safetensors")
    gan = HificCodec(start=str(tmp_path / "twin.safetensors"), lam_p=0.5)
    run = new_run(gan.hific, gan._start, 0, torch.device("cpu"), HificSchedule(1))
    assert torch.equal(run.model.g_s[0].weight, twin.model.g_s[0].weight)


def test_noise_is_drawn_for_the_whole_batch_and_shared_out():
    whole = Noise.draw((4, 3, 2, 2), (4, 2, 1, 1), 0.5, torch.Generator().manual_seed(0))
    again = Noise.draw((4, 3, 2, 2), (4, 2, 1, 1), 0.5, torch.Generator().manual_seed(0))
    parts = [again.rows(0, 2, torch.device("cpu")), again.rows(2, 4, torch.device("cpu"))]
    assert torch.equal(torch.cat([p.y for p in parts]), whole.y) and torch.equal(torch.cat([p.decoder for p in parts]), whole.decoder)
    assert float(whole.decoder.abs().max()) <= 0.25


def test_two_cpu_processes_train_as_one_process_with_the_combined_batch():
    """DDP with gloo: both ranks end with identical weights (checked inside training, and recorded), equal to a
    single-process run on the same 4-image batches within 1e-5 (float summation order differs)."""
    options = {**SMALL, "noise": 0.0}
    fit = {**FIT, "batch_size": 4, "steps": 3, "seed": 5}
    before = torch.get_num_threads()
    two = HificCodec(**options).fit("builtin:training", processes=2, **fit)
    one = HificCodec(**options).fit("builtin:training", **fit)
    assert torch.get_num_threads() == before
    assert len(two.replicas) == 2 and two.replicas[0] == two.replicas[1]
    a, b = _weights(two), _weights(one)
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())
    assert worst < 1e-5, worst
    assert [h["bpp"] for h in two.history] == pytest.approx([h["bpp"] for h in one.history], rel=1e-5)
    with pytest.raises(InputError, match="does not split evenly over 2 processes"):
        HificCodec(**options).fit("builtin:training", processes=2, **{**fit, "batch_size": 3})


def test_mixed_precision_keeps_the_bitstream_path_in_float32():
    codec = HificCodec(**SMALL).fit("builtin:training", steps=2, amp=True, **FIT)
    assert all(p.dtype == torch.float32 for p in codec.model.parameters())
    x = rdpkit.data.load_image("builtin:coffee", size=64)
    assert codec.decode(codec.encode(x).to_bytes(), seed=0).shape == x.shape


def test_train_command_writes_a_hific_model_and_its_record(tmp_path):
    out = tmp_path / "h.safetensors"
    args = ["train", "--kind", "hific", "--out", str(out), "--channels", "4", "--latent-channels", "6", "--lam-p", "0.5", "--noise", "0.5",
            "--distortion", "mse", "--distortion", "0.5*ssim", "--discriminator-channels", "4", "--steps", "2", "--batch", "2",
            "--crop", "64", "--half", "--quiet", "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert {"command", "seed", "data", "schedule", "versions", "training_wall_s", "sha256", "bytes", "replicas", "start"} <= record.keys()
    assert record["architecture"]["distortion"] == 'weighted-sum,terms=[["mse", 1.0], ["ssim", 0.5]]'
    codec = HificCodec(weights=str(out))
    assert codec.fitted and codec.hific.lam_p == 0.5 and codec.stochastic
    bad = CliRunner().invoke(main, ["train", "--kind", "hyperprior", "--out", str(tmp_path / "x.safetensors"), "--lam-p", "1"])
    assert bad.exit_code != 0 and "--kind hific only" in bad.output and "Traceback" not in bad.output
    bad = CliRunner().invoke(main, [*args[:-2], "--distortion", "x*mse"])
    assert bad.exit_code != 0 and "WEIGHT*COMPONENT" in bad.output
