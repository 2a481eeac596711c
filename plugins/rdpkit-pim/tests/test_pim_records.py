"""A PIM checkpoint whose record exists but cannot be read is refused, and special files are named as they are (issue 23, item 10)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from rdpkit_pim import checkpoint
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from rdpkit.errors import WeightsUnavailable


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    """A copy of the shipped checkpoint with a weight changed; its record beside it says the original sha256."""
    path = tmp_path / "pim.safetensors"
    shutil.copy(checkpoint.SHIPPED, path)
    shutil.copy(checkpoint.SHIPPED.with_suffix(".json"), path.with_suffix(".json"))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    first = next(iter(tensors))
    tensors[first] = tensors[first] + 1
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(WeightsUnavailable, match="damaged or was replaced"):
        checkpoint.load(path)
    return path


@pytest.mark.parametrize("record", ["folder", "fifo"])
def test_tampered_weights_beside_an_unreadable_record_are_refused(tampered, record):
    beside = tampered.with_suffix(".json")
    beside.unlink()
    beside.mkdir() if record == "folder" else os.mkfifo(beside)
    with pytest.raises(WeightsUnavailable, match=f"exists but is a {'folder' if record == 'folder' else 'FIFO'}, not a readable file"):
        checkpoint.load(tampered)


def test_special_files_and_empty_paths_are_named_as_they_are(tmp_path):
    fifo = tmp_path / "pim.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(WeightsUnavailable, match="is a FIFO, not a regular file"):
        checkpoint.load(fifo)
    with pytest.raises(WeightsUnavailable, match="the PIM checkpoint path is empty"):
        checkpoint.load("")
