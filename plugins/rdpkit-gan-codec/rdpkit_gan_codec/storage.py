"""Files the codec writes: trained models (safetensors, no pickle) and training checkpoints.

A model file holds the encoder/decoder weights, the integer prior tables, and the
configuration and image shape as JSON metadata. A checkpoint is a `torch.save` of state
dicts, tensors and numbers only, read back with ``weights_only=True``; it is written to a
temporary file and renamed, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from rdpkit.errors import InputError

from .config import GanConfig

MODEL_FORMAT = "rdpkit-gan-codec/1"


def fingerprint(config: GanConfig, shape: tuple[int, int, int], state: dict[str, torch.Tensor]) -> str:
    """A short hash of everything decoding depends on: config, shape, weights and prior, as stored."""
    h = hashlib.sha256(config.to_json().encode() + json.dumps(list(shape)).encode())
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_model(path: str | Path, config: GanConfig, shape: tuple[int, int, int], state: dict[str, torch.Tensor]) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_file(tensors, str(path), metadata={"format": MODEL_FORMAT, "config": config.to_json(), "shape": json.dumps(list(shape))})
    return path


def load_model(path: str | Path) -> tuple[GanConfig, tuple[int, int, int], dict[str, torch.Tensor]]:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"gan codec file {str(path)!r} does not exist; pass the path given to GanCodec.save().")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {MODEL_FORMAT!r}")
        config = GanConfig.from_json(meta["config"])
        c, h, w = (int(s) for s in json.loads(meta["shape"]))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (safetensors, JSON and unpacking errors alike mean a foreign or damaged file)
        raise InputError(f"{str(path)!r} is not a readable gan codec file ({type(exc).__name__}: {exc}); save the codec again with GanCodec.save().") from None
    return config, (c, h, w), state


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != MODEL_FORMAT:
            raise ValueError("not a gan-codec training checkpoint")
    except Exception as exc:  # noqa: BLE001 (torch.load raises pickle, zip and runtime errors on damaged files)
        raise InputError(f"checkpoint {str(path)!r} is damaged or not a gan-codec checkpoint ({type(exc).__name__}: {exc}); delete it, or pass resume=False to overwrite it.") from None
    return checkpoint
