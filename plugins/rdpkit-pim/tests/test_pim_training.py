"""rdpkit-pim's parts: Gaussian formulas against torch.distributions, the IXYZ bound, pairs, checkpoints, CLI."""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file
from torch.distributions import Independent, Normal, kl_divergence

import rdpkit
from rdpkit import weights
from rdpkit.cli import cli
from rdpkit_pim import checkpoint
from rdpkit_pim.cli import main
from rdpkit_pim.distortion import PIM
from rdpkit_pim.gaussian import log_density, pairwise_log_density, symmetrised_kl
from rdpkit_pim.model import Config, PIMModel, laplacian_pyramid
from rdpkit_pim.objective import ixyz_bound
from rdpkit_pim.pairs import BuiltinPairs, FramePairs

TINY = Config(scales=2, channels=4, features=4, hidden=8, z_dim=3)


def _normal(mean: torch.Tensor, logvar: torch.Tensor) -> Independent:
    return Independent(Normal(mean, torch.exp(0.5 * logvar)), 1)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 6))
def test_gaussian_formulas_match_torch_distributions(seed, d):
    g = torch.Generator().manual_seed(seed)
    ma, mb, z = (torch.randn(5, d, generator=g, dtype=torch.float64) for _ in range(3))
    la, lb = (2 * torch.randn(5, d, generator=g, dtype=torch.float64) for _ in range(2))
    a, b = _normal(ma, la), _normal(mb, lb)
    assert torch.allclose(symmetrised_kl(ma, la, mb, lb), kl_divergence(a, b) + kl_divergence(b, a), rtol=1e-10)
    assert torch.allclose(log_density(z, ma, la), a.log_prob(z), rtol=1e-10)
    assert torch.allclose(pairwise_log_density(z, ma, la), a.log_prob(z[:, None, :]), rtol=1e-10)
    assert torch.equal(symmetrised_kl(ma, la, ma, la), torch.zeros(5, dtype=torch.float64))


def test_laplacian_pyramid_sizes_and_gains():
    x = torch.rand(1, 3, 37, 50)
    bands = laplacian_pyramid(x, 3)
    assert [tuple(b.shape[-2:]) for b in bands] == [(37, 50), (19, 25), (10, 13)]
    assert all(abs(float(b.mean())) < 0.5 for b in bands[:-1])  # band-pass levels are zero-mean-ish


def _slow_ixyz(model: PIMModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The bound evaluated at every location with torch.distributions, z fixed to the joint means."""
    bounds = []
    for s, (fx, fy) in enumerate(zip(model.features(x), model.features(y))):
        (mx, lx), (my, ly), (mj, lj) = model.marginal(s, fx), model.marginal(s, fy), model.joint(s, fx, fy)
        flat = [t.reshape(-1, t.shape[-1]) for t in (mx, lx, my, ly, mj, lj)]
        mx, lx, my, ly, mj, lj = flat
        z = mj
        marginal = torch.stack([_normal(mj[j], lj[j]).log_prob(z) for j in range(len(z))], 1).logsumexp(1) - math.log(len(z))
        b = _normal(mx, lx).log_prob(z) + _normal(my, ly).log_prob(z) - _normal(mj, lj).log_prob(z) - marginal
        bounds.append(b.mean())
    return torch.stack(bounds).mean()


def test_ixyz_bound_matches_a_slow_reference(monkeypatch):
    torch.manual_seed(0)
    model = PIMModel(TINY).double()
    x, y = torch.rand(2, 3, 8, 8, dtype=torch.float64), torch.rand(2, 3, 8, 8, dtype=torch.float64)
    # With every location in the contrast and z at the joint means, the estimate is deterministic.
    monkeypatch.setattr(torch, "randn", lambda shape, generator=None, dtype=None: torch.zeros(shape, dtype=dtype))
    fast = ixyz_bound(model, x, y, torch.Generator().manual_seed(0), locations=10_000)
    assert torch.allclose(fast, _slow_ixyz(model, x, y), rtol=1e-9)


def test_ixyz_bound_never_exceeds_log_of_the_contrast_size():
    torch.manual_seed(1)
    model = PIMModel(TINY)
    x = torch.rand(4, 3, 16, 16)
    bound = ixyz_bound(model, x, x, torch.Generator().manual_seed(0), locations=64)
    assert float(bound.detach()) <= math.log(64) + 1e-4


def test_builtin_pairs_are_close_but_not_equal():
    pairs = BuiltinPairs(("astronaut",), stereo=0.5)
    x, y = pairs.sample(8, 32, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 3, 32, 32) and 0 <= float(x.min()) and float(x.max()) <= 1
    mse = (x - y).pow(2).flatten(1).mean(1)
    unrelated = (x - x.roll(1, 0)).pow(2).flatten(1).mean(1)
    assert bool((mse > 0).all()) and float(mse.mean()) < float(unrelated.mean())


def _write_video(folder, frames: int, seed: int = 0) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    scene = (rng.random((48, 60, 3)) * 255).astype(np.uint8)
    for t in range(frames):
        Image.fromarray(np.roll(scene, t, axis=1)[:, :40]).save(folder / f"{t:04d}.png")


def test_frame_pairs_are_consecutive_frames(tmp_path):
    _write_video(tmp_path / "a", 3)
    _write_video(tmp_path / "b", 2, seed=1)
    pairs = FramePairs(tmp_path)
    assert pairs.describe()["pairs"] == 3
    x, y = pairs.sample(4, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 3, 16, 16)


def test_a_single_frame_is_refused(tmp_path):
    _write_video(tmp_path / "a", 1)
    with pytest.raises(rdpkit.InputError, match="at least two consecutive frames"):
        FramePairs(tmp_path)


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_rdpkit_pim_train_writes_a_checkpoint_and_its_record(tmp_path, keep_threads):
    _write_video(tmp_path / "frames", 4)
    out = tmp_path / "pim.safetensors"
    args = ["train", "--data", str(tmp_path / "frames"), "--out", str(out), "--steps", "2", "--batch", "4", "--crop", "16", "--seed", "3", "--threads", "1", "--quiet"]
    result = CliRunner().invoke(cli, ["pim", *args])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["sha256"] == weights.sha256(out) and record["seed"] == 3 and record["schedule"]["steps"] == 2
    assert record["command"] == shlex.join(["rdpkit", "pim", *args]) and torch.__version__.startswith(record["versions"]["torch"])
    d = PIM(checkpoint=out, sha256=record["sha256"])
    x = torch.rand(1, 3, 24, 24)
    assert float(d(x, x)) == 0 and float(d(x, x.flip(-1))) > 0


def test_the_old_script_name_says_the_new_command():
    script = Path(sys.executable).with_name("rdpkit-pim")
    result = subprocess.run([str(script), "train", "--help"], capture_output=True, text=True, check=True)
    assert result.stderr == "rdpkit-pim is now `rdpkit pim`\n" and "Usage: rdpkit pim train" in result.stdout


def test_cli_errors_are_one_sentence(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o.safetensors")])
    assert result.exit_code != 0 and "is not a folder" in result.output and "Traceback" not in result.output


def test_save_and_load_round_trip(tmp_path):
    model = PIMModel(TINY)
    checkpoint.save(model, tmp_path / "m.safetensors", {"command": "test"})
    loaded = checkpoint.load(tmp_path / "m.safetensors")
    x, y = torch.rand(2, 1, 3, 16, 16)
    assert loaded.config == TINY and torch.equal(loaded.distance(x, y), model.distance(x, y))


def test_sha256_mismatch_is_one_sentence(tmp_path):
    checkpoint.save(PIMModel(TINY), tmp_path / "m.safetensors", {})
    with pytest.raises(rdpkit.WeightsUnavailable, match="has sha256 .* but 000000000000… was expected"):
        checkpoint.load(tmp_path / "m.safetensors", expected_sha256="0" * 64)


def test_shipped_checkpoint_is_verified(monkeypatch):
    monkeypatch.setattr(checkpoint, "SHIPPED_SHA256", "f" * 64)
    with pytest.raises(rdpkit.WeightsUnavailable, match="reinstall rdpkit-pim"):
        checkpoint.load()


@pytest.mark.parametrize("content", [b"", b"not safetensors at all", b"\xff" * 64])
def test_damaged_file_is_one_sentence(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(rdpkit.WeightsUnavailable, match="cannot be read as safetensors"):
        checkpoint.load(path)


def test_other_safetensors_files_are_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(rdpkit.WeightsUnavailable, match="is not a PIM checkpoint"):
        checkpoint.load(path)


def test_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(rdpkit.WeightsUnavailable, match="does not exist; train one"):
        checkpoint.load(tmp_path / "nothing.safetensors")


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg.endswith(".") and ". " not in msg and "\n" not in msg, msg
    return msg


def _flip_last_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # inside the last tensor's data: the file still parses
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_caught_by_the_record_beside_the_checkpoint(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(PIMModel(TINY), path, {})
    _flip_last_byte(path)
    with pytest.raises(rdpkit.WeightsUnavailable, match="has sha256 .* but .* was expected") as err:
        checkpoint.load(path)
    assert "m.json" in _one_sentence(err)
    with pytest.raises(rdpkit.WeightsUnavailable, match="has sha256"):
        PIM(checkpoint=path)
    weights.record_path(path).unlink()  # no record, nothing to check against
    assert checkpoint.load(path).config == TINY


def test_the_digest_given_must_agree_with_the_record_too(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(PIMModel(TINY), path, {})
    _flip_last_byte(path)
    with pytest.raises(rdpkit.WeightsUnavailable, match="has sha256"):
        checkpoint.load(path, expected_sha256=weights.sha256(path))


@pytest.mark.parametrize("digest", ["", "   ", "abc", "g" * 64])
def test_an_empty_or_malformed_digest_is_refused(tmp_path, digest):
    path = tmp_path / "m.safetensors"
    checkpoint.save(PIMModel(TINY), path, {})
    with pytest.raises(rdpkit.InputError, match="64 hexadecimal digits") as err:
        PIM(checkpoint=path, sha256=digest)
    _one_sentence(err)


def test_an_unreadable_record_is_one_sentence(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(PIMModel(TINY), path, {})
    weights.record_path(path).write_text("{not json")
    with pytest.raises(rdpkit.WeightsUnavailable, match="record .* is not valid JSON") as err:
        checkpoint.load(path)
    _one_sentence(err)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, bad):
    model = PIMModel(TINY)
    with torch.no_grad():
        model.frontend[0][0].weight[0, 0, 0, 0] = bad
    checkpoint.save(model, tmp_path / "m.safetensors", {})
    with pytest.raises(rdpkit.WeightsUnavailable, match="non-finite") as err:
        checkpoint.load(tmp_path / "m.safetensors")
    assert "frontend.0.0.weight" in _one_sentence(err)


def _write_raw(path, metadata: dict[str, str], tensors: dict[str, torch.Tensor] | None = None) -> None:
    tensors = tensors if tensors is not None else {k: v.contiguous() for k, v in PIMModel(TINY).state_dict().items()}
    save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"format": checkpoint.FORMAT}, "architecture"),
        ({"format": checkpoint.FORMAT, "config": "{scales: 2"}, "architecture"),
        ({"format": checkpoint.FORMAT, "config": "[1, 2]"}, "architecture"),
        ({"format": checkpoint.FORMAT, "config": '{"scales": "two"}'}, "architecture"),
        ({"format": checkpoint.FORMAT, "config": json.dumps(dict(TINY.as_dict(), channels=5))}, "shape"),
    ],
)
def test_broken_metadata_and_wrong_shapes_are_one_sentence(tmp_path, metadata, match):
    path = tmp_path / "m.safetensors"
    _write_raw(path, metadata)
    with pytest.raises(rdpkit.WeightsUnavailable, match=match) as err:
        checkpoint.load(path)
    _one_sentence(err)


def test_a_folder_is_not_called_missing(tmp_path):
    with pytest.raises(rdpkit.WeightsUnavailable, match="is a folder") as err:
        checkpoint.load(tmp_path)
    assert "does not exist" not in _one_sentence(err)
