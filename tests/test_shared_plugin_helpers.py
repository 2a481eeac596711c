"""What the codec and training plugins share from the core: the decode seed check, device parsing, model files with a record."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rdpkit
from rdpkit import weights
from rdpkit.errors import InputError, WeightsUnavailable
from rdpkit.validation import check_seed, usable_device


@pytest.mark.parametrize("seed", [1.5, "3", True, 2**64, -(2**63) - 1, [1]])
def test_every_codec_refuses_a_bad_seed_before_decoding(seed):
    codec = rdpkit.codec("jpeg")
    raw = codec.encode(torch.rand(1, 3, 16, 16)).to_bytes()
    with pytest.raises(InputError, match="seed must be an integer"):
        codec.decode(raw, seed=seed)
    with pytest.raises(InputError, match="seed must be an integer"):
        codec.decode(b"not a bitstream", seed=seed)  # the seed is checked first


def test_seeds_torch_takes_pass():
    assert [check_seed(s) for s in (None, 0, -(2**63), 2**64 - 1, np.int64(7), torch.tensor(3))] == [None, 0, -(2**63), 2**64 - 1, 7, 3]


def test_devices_are_checked_and_resolved():
    assert usable_device(torch.device("cpu")) == usable_device("cpu") == "cpu"
    assert usable_device(None) == usable_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="not a torch device"):
        usable_device("gpu")


def _model_file(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"weights")
    return path, weights.write_record(path, {"seed": 3})


def test_a_record_is_written_beside_the_file_with_its_digest(tmp_path):
    path, record = _model_file(tmp_path)
    assert json.loads(weights.record_path(path).read_text()) == record
    assert record["sha256"] == weights.sha256(path) and record["bytes"] == 7 and record["seed"] == 3
    assert weights.verify_file(path, "the model", fix="train it again", written_by="`x train`", expected_sha256=record["sha256"].upper()) == path


def test_a_file_that_differs_from_its_record_or_the_digest_given_is_refused(tmp_path):
    path, record = _model_file(tmp_path)
    with pytest.raises(WeightsUnavailable, match="was expected by the sha256 given, so it is damaged or was replaced; train it again"):
        weights.verify_file(path, "the model", fix="train it again", written_by="`x train`", expected_sha256="0" * 64)
    path.write_bytes(b"weightz")
    with pytest.raises(WeightsUnavailable, match="was expected by its record 'm.json'"):
        weights.verify_file(path, "the model", fix="train it again", written_by="`x train`")


@pytest.mark.parametrize(("record", "match"), [("{not json", "is not valid JSON with a sha256 field"),
                                               ('{"sha256": ""}', "not 64 hexadecimal digits")])
def test_a_record_that_cannot_verify_is_refused(tmp_path, record, match):
    path, _ = _model_file(tmp_path)
    weights.record_path(path).write_text(record)
    with pytest.raises(WeightsUnavailable, match=match):
        weights.verify_file(path, "the model", fix="train it again", written_by="`x train`")


def test_folders_missing_files_and_malformed_digests_are_one_sentence(tmp_path):
    with pytest.raises(WeightsUnavailable, match="is a folder, not a file; give the path of the .safetensors file written by `x train`"):
        weights.verify_file(tmp_path, "the model", fix="train it again", written_by="`x train`")
    with pytest.raises(WeightsUnavailable, match="does not exist; train it again, or give the right path"):
        weights.verify_file(tmp_path / "none.safetensors", "the model", fix="train it again", written_by="`x train`")
    path, _ = _model_file(tmp_path)
    with pytest.raises(InputError, match="64 hexadecimal digits"):
        weights.verify_file(path, "the model", fix="train it again", written_by="`x train`", expected_sha256="abc")
