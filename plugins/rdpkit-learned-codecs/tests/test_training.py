"""Training: deterministic under a seed on the CPU, resumable exactly, refusing foreign checkpoints; the train command's record."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from rdpkit_learned_codecs.cli import main
from rdpkit_learned_codecs.codecs.transform import FactorizedCodec, HyperpriorCodec
from rdpkit_learned_codecs.training.crops import Crops

from rdpkit.cli import cli
from rdpkit.errors import InputError

FIT = {"batch_size": 2, "crop": 32, "progress": False, "device": "cpu"}


def _weights(codec):
    return {k: v.clone() for k, v in codec.model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_under_a_seed_and_resumes_exactly(tmp_path, monkeypatch):
    a = HyperpriorCodec(channels=4, latent_channels=6, lam=[0.01, 0.05]).fit("builtin:training", steps=4, seed=3, **FIT)
    b = HyperpriorCodec(channels=4, latent_channels=6, lam=[0.01, 0.05]).fit("builtin:training", steps=4, seed=3, **FIT)
    assert _same(_weights(a), _weights(b)) and a.fingerprint == b.fingerprint
    c = HyperpriorCodec(channels=4, latent_channels=6, lam=[0.01, 0.05]).fit("builtin:training", steps=4, seed=4, **FIT)
    assert not _same(_weights(a), _weights(c))
    # Killed in step 101 (after the checkpoint of step 100), then resumed: the same as 101 steps at once.
    ckpt = tmp_path / "run.pt"
    draw, calls = Crops.batch, []

    def killed_at_101(self, *args):
        calls.append(1)
        if len(calls) == 101:
            raise KeyboardInterrupt
        return draw(self, *args)

    monkeypatch.setattr(Crops, "batch", killed_at_101)
    with pytest.raises(KeyboardInterrupt):
        FactorizedCodec(channels=4, latent_channels=6).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)
    monkeypatch.setattr(Crops, "batch", draw)
    resumed = FactorizedCodec(channels=4, latent_channels=6).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)
    straight = FactorizedCodec(channels=4, latent_channels=6).fit("builtin:training", steps=101, seed=1, **FIT)
    assert _same(_weights(resumed), _weights(straight))
    with pytest.raises(InputError, match="belongs to another run"):
        FactorizedCodec(channels=4, latent_channels=6).fit("builtin:training", steps=101, seed=2, checkpoint=ckpt, **FIT)
    ckpt.write_bytes(ckpt.read_bytes()[:-100])
    with pytest.raises(InputError, match="damaged"):
        FactorizedCodec(channels=4, latent_channels=6).fit("builtin:training", steps=101, seed=1, checkpoint=ckpt, **FIT)


def test_crops_have_the_asked_side_and_come_from_the_images():
    images = [torch.arange(3 * 40 * 50, dtype=torch.float32).reshape(3, 40, 50) / (3 * 40 * 50)]
    crops = Crops.of(images)
    batch = crops.batch(6, 16, torch.Generator().manual_seed(0))
    assert batch.shape == (6, 3, 16, 16)
    flat = images[0].flatten().tolist()
    assert all(float(v) in flat for v in batch[:, :, 0, 0].flatten())
    assert Crops.of(torch.rand(3, 1, 8, 8)).batch(2, 128, torch.Generator()).shape == (2, 3, 8, 8)  # grey, smaller than the crop


@pytest.mark.parametrize("data, match", [("no/such/folder", "neither a file nor a folder"), (42, "training data must be")])
def test_bad_training_data_is_one_sentence(data, match):
    with pytest.raises(InputError, match=match):
        FactorizedCodec(channels=4, latent_channels=6).fit(data, steps=1, **FIT)


def test_loaded_codecs_are_not_retrained(tiny_codecs, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_codecs["factorized"].save(path)
    loaded = FactorizedCodec(weights=str(path))
    assert loaded.fitted and not loaded.learnable
    with pytest.raises(InputError, match="loaded ready to code"):
        loaded.fit("builtin:training", steps=1)


def test_rdpkit_learned_codecs_train_writes_a_model_and_its_record(tmp_path):
    out = tmp_path / "m.safetensors"
    args = ["train", "--kind", "hyperprior", "--out", str(out), "--channels", "4", "--latent-channels", "6",
            "--lam", "0.01,0.05", "--steps", "2", "--batch", "1", "--crop", "64", "--device", "cpu", "--half", "--quiet"]  # in the order the command declares them
    result = CliRunner().invoke(cli, ["learned-codecs", *args])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert {"command", "seed", "data", "schedule", "versions", "training_wall_s", "sha256", "bytes"} <= record.keys()
    assert record["command"] == shlex.join(["rdpkit", "learned-codecs", *args]) and record["versions"]["rdpkit-learned-codecs"]
    assert record["data"]["source"] == "builtin:training" and record["storage"] == "float16"
    codec = HyperpriorCodec(weights=str(out), quality=2)
    assert codec.fitted and codec.config.lams == (0.01, 0.05)
    bad = CliRunner().invoke(main, ["train", "--kind", "factorized", "--out", str(tmp_path / "x.safetensors"), "--lam", "-1"])
    assert bad.exit_code != 0 and "lam must be" in bad.output and "Traceback" not in bad.output


def test_the_old_script_name_says_the_new_command():
    script = Path(sys.executable).with_name("rdpkit-learned-codecs")
    result = subprocess.run([str(script), "train", "--help"], capture_output=True, text=True, check=True)
    assert result.stderr == "rdpkit-learned-codecs is now `rdpkit learned-codecs`\n" and "Usage: rdpkit learned-codecs train" in result.stdout


@pytest.mark.parametrize(("option", "value", "hint"), [("--kind", "hyperprio", "did you mean 'hyperprior'?"),
                                                       ("--discriminator-input", "bandpass", "did you mean 'band-pass'?")])
def test_a_choice_that_is_not_one_names_the_closest(tmp_path, option, value, hint):
    args = ["train", "--kind", "hific", "--out", str(tmp_path / "m.safetensors"), option, value]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and hint in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())
