"""rdpkit.weights: the checks every loader of weights files uses."""

from __future__ import annotations

import pytest
import torch

import rdpkit
from rdpkit.weights import (
    check_finite,
    check_named_digest,
    load_tensors,
    named_digest,
    save_tensors,
    sha256,
    tensors_only,
)


class Payload:
    """Creates a file when unpickled: proof that a file's code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_named_digests_are_checked(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"w": torch.ones(2)}, path)
    named = tmp_path / f"model-{sha256(path)[:8]}.pth"
    named.write_bytes(path.read_bytes())
    assert named_digest(named) == sha256(path)[:8] and named_digest(path) is None
    check_named_digest(named, "test")
    wrong = tmp_path / "model-00000000.pth"
    wrong.write_bytes(path.read_bytes())
    with pytest.raises(rdpkit.WeightsUnavailable, match="not 00000000 as its name says"):
        load_tensors(wrong, "test")
    assert named_digest(tmp_path / "model-add.pth") is None, "a short word after a dash is not a hash"


def test_only_tensors_are_read_and_no_code_runs(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"w": Payload(tmp_path / "ran")}, path)
    with pytest.raises(rdpkit.WeightsUnavailable, match="holds Python objects besides tensors") as err:
        load_tensors(path, "test")
    with pytest.raises(rdpkit.WeightsUnavailable), tensors_only("a library"):
        torch.load(path, map_location="cpu", weights_only=False)  # as pyiqa and torch-fidelity call it
    assert not (tmp_path / "ran").exists() and "weights_only=False" not in str(err.value)
    assert torch.load is not None and torch.load.__module__.startswith("torch"), "torch.load is restored after the block"
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(b"not a zip file at all")
    with pytest.raises(rdpkit.WeightsUnavailable, match="cannot read"):
        load_tensors(damaged, "test")


def test_non_finite_weights_are_refused():
    with pytest.raises(rdpkit.WeightsUnavailable, match="non-finite weights .* in 'b'"):
        check_finite("test", {"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")])})
    net = torch.nn.Linear(2, 2)
    check_finite("test", net)
    with torch.no_grad():
        net.weight[0, 0] = float("inf")
    with pytest.raises(rdpkit.WeightsUnavailable, match="'weight'"):
        check_finite("test", net)


def test_training_checkpoints_carry_and_check_their_digest(tmp_path):
    from rdpkit.weights import content_digest, load_checkpoint, save_checkpoint

    path = tmp_path / "run.pt"
    state = {"format": "demo/1", "step": 7, "model": {"w": torch.arange(4.0)}, "history": [1.0, 2.0]}
    save_checkpoint(path, state)
    kw = dict(fmt="demo/1", owner="demo", fix="start again")
    loaded = load_checkpoint(path, **kw)
    assert loaded["step"] == 7 and torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert content_digest({"a": 1, "b": torch.ones(2)}) == content_digest({"b": torch.ones(2), "a": 1}), "key order does not matter"
    tampered = {**state, "step": 8, "sha256": content_digest(state)}
    torch.save(tampered, path)
    with pytest.raises(rdpkit.InputError, match="does not match the sha256 stored in it"):
        load_checkpoint(path, **kw)
    save_checkpoint(path, {**state, "model": {"w": torch.tensor([1.0, float("nan")])}})
    with pytest.raises(rdpkit.InputError, match="non-finite values .* in 'model.w'"):
        load_checkpoint(path, **kw)
    with pytest.raises(rdpkit.InputError, match="it has no 'other/1' format field"):
        load_checkpoint(path, fmt="other/1", owner="demo", fix="start again")
    with pytest.raises(rdpkit.InputError, match="is a folder"):
        save_checkpoint(tmp_path, state)


def test_a_checkpoint_resumes_only_the_run_it_belongs_to_and_not_past_its_steps(tmp_path):
    from rdpkit.weights import check_resumable

    saved = {"config": "a", "seed": 0, "step": 30}
    check_resumable(saved, tmp_path / "run.pt", {"config": "a", "seed": 0}, 30)
    with pytest.raises(rdpkit.InputError, match=r"run.pt' belongs to another run \(seed 0, this run 1\)"):
        check_resumable(saved, tmp_path / "run.pt", {"config": "a", "seed": 1}, 30)
    with pytest.raises(rdpkit.InputError, match="has already trained 30 steps, more than steps=20; ask for at least 30 steps"):
        check_resumable(saved, tmp_path / "run.pt", {"config": "a"}, 20)


def test_saved_tensors_read_back_with_the_umask_s_mode_and_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    import os

    from safetensors import safe_open

    path = tmp_path / "deep" / "model.safetensors"
    old = os.umask(0o022)
    try:
        save_tensors(path, {"w": torch.arange(6.0).reshape(2, 3)}, {"format": "test/1"})
    finally:
        os.umask(old)
    # safetensors' own writer leaves 0o600: a model file shared on a cluster must be readable by the group
    assert path.stat().st_mode & 0o777 == 0o644
    with safe_open(str(path), "pt") as f:
        assert f.metadata() == {"format": "test/1"}
        assert torch.equal(f.get_tensor("w"), torch.arange(6.0).reshape(2, 3))
    before = path.read_bytes()

    def full_disk(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(path), "write_bytes", full_disk)
    with pytest.raises(rdpkit.InputError, match="the disk is full"):
        save_tensors(path, {"w": torch.zeros(4)}, {"format": "test/1"})
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.safetensors"]
