"""The gan codec's files on their own: model files and training checkpoints are verified
before use, non-finite weights and unsafe pickles are refused, each with one sentence."""

from __future__ import annotations

import pytest
import torch
from rdpkit_gan_codec import storage
from rdpkit_gan_codec.config import GanConfig
from rdpkit_gan_codec.model import GanAutoencoder

import rdpkit

CONFIG = GanConfig(dim=2, levels=4, hidden=8, critic_hidden=8)
SHAPE = (1, 8, 8)


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return GanAutoencoder(CONFIG, SHAPE).state_dict()


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg.endswith(".") and ". " not in msg and "\n" not in msg, msg
    return msg


def _float_key(state: dict[str, torch.Tensor]) -> str:
    return next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)


def test_a_flipped_byte_in_a_model_file_is_caught(tmp_path):
    state = _state()
    path = storage.save_model(tmp_path / "m.safetensors", CONFIG, SHAPE, state)
    config, shape, loaded = storage.load_model(path)
    assert config == CONFIG and shape == SHAPE and all(torch.equal(loaded[k], state[k]) for k in state)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # inside the last tensor's data: the file still parses
    path.write_bytes(bytes(data))
    with pytest.raises(rdpkit.InputError, match="sha256") as err:
        storage.load_model(path)
    _one_sentence(err)


def test_non_finite_weights_in_a_model_file_are_refused(tmp_path):
    state = _state()
    state[_float_key(state)].view(-1)[0] = float("nan")
    path = storage.save_model(tmp_path / "m.safetensors", CONFIG, SHAPE, state)
    with pytest.raises(rdpkit.InputError, match="non-finite") as err:
        storage.load_model(path)
    assert _float_key(state) in _one_sentence(err)


def _checkpoint() -> dict:
    return {"format": storage.MODEL_FORMAT, "step": 5, "history": [{"step": 5, "distortion": 0.1}], "model": _state(), "critic": {},
            "index_gen": torch.Generator().get_state()}


def test_a_checkpoint_changed_after_it_was_written_is_refused(tmp_path):
    path = tmp_path / "run.pt"
    storage.save_checkpoint(path, _checkpoint())
    assert storage.load_checkpoint(path).keys() == _checkpoint().keys()
    saved = torch.load(path, weights_only=True)
    saved["model"][_float_key(saved["model"])].view(-1)[0] += 1
    torch.save(saved, path)  # what one flipped bit in the weights does, with the archive intact
    with pytest.raises(rdpkit.InputError, match="sha256") as err:
        storage.load_checkpoint(path)
    _one_sentence(err)


def test_non_finite_weights_in_a_checkpoint_are_refused(tmp_path):
    path = tmp_path / "run.pt"
    checkpoint = _checkpoint()
    checkpoint["model"][_float_key(checkpoint["model"])].view(-1)[0] = float("inf")
    storage.save_checkpoint(path, checkpoint)
    with pytest.raises(rdpkit.InputError, match="non-finite") as err:
        storage.load_checkpoint(path)
    _one_sentence(err)


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled",))


def test_an_unsafe_checkpoint_is_refused_without_advising_the_unsafe_path(tmp_path):
    path = tmp_path / "run.pt"
    torch.save({"format": storage.MODEL_FORMAT, "payload": _Payload()}, path)
    with pytest.raises(rdpkit.InputError, match="not unpickle") as err:
        storage.load_checkpoint(path)
    msg = _one_sentence(err)
    assert "weights_only" not in msg


def test_a_folder_as_checkpoint_path_is_one_sentence(tmp_path):
    with pytest.raises(rdpkit.InputError, match="is a folder") as err:
        storage.save_checkpoint(tmp_path, _checkpoint())
    _one_sentence(err)


def test_the_distribution_states_its_licence():
    # `rdpkit plugins` shows the licence the installed metadata states (reinstall after editing pyproject.toml).
    import importlib.metadata

    assert importlib.metadata.metadata("rdpkit-gan-codec").get("License-Expression") == "MIT"
