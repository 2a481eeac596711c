"""Files the codec writes: trained models (safetensors, no pickle) and training checkpoints.

A model file holds the encoder/decoder weights, the integer prior tables, and the
configuration and image shape as JSON metadata. A checkpoint is a `torch.save` of state
dicts, tensors and numbers only, read back with ``weights_only=True``; it is written to a
temporary file and renamed, so a run killed mid-write leaves the previous checkpoint intact.

Both carry the sha256 of their content, written with them and checked when they are read,
so a file damaged on disk is refused instead of decoding or training with altered weights;
weights that are NaN or infinite are refused as well.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from rdpkit import weights
from rdpkit.errors import InputError

from .config import GanConfig

MODEL_FORMAT = "rdpkit-gan-codec/1"
DIGEST_KEY = weights.DIGEST_KEY


def _state_digest(config: GanConfig, shape: tuple[int, int, int], state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(config.to_json().encode() + json.dumps(list(shape)).encode())
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def fingerprint(config: GanConfig, shape: tuple[int, int, int], state: dict[str, torch.Tensor]) -> str:
    """A short hash of everything decoding depends on: config, shape, weights and prior, as stored."""
    return _state_digest(config, shape, state)[:16]


def save_model(path: str | Path, config: GanConfig, shape: tuple[int, int, int], state: dict[str, torch.Tensor]) -> Path:
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    meta = {"format": MODEL_FORMAT, "config": config.to_json(), "shape": json.dumps(list(shape)), DIGEST_KEY: _state_digest(config, shape, tensors)}
    return weights.save_tensors(path, tensors, meta)


def load_model(path: str | Path) -> tuple[GanConfig, tuple[int, int, int], dict[str, torch.Tensor]]:
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        raise InputError(f"gan codec file {str(path)!r} is a folder; pass the path of the file GanCodec.save() wrote.")
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
    # Files written before the digest was stored have none; there is nothing to check them against.
    if DIGEST_KEY in meta and _state_digest(config, (c, h, w), state) != meta[DIGEST_KEY]:
        raise InputError(f"gan codec file {str(path)!r} does not match the sha256 stored in it, so it was damaged after it was written; save the codec again with GanCodec.save().")
    bad = weights.first_non_finite(state)
    if bad is not None:
        raise InputError(f"gan codec file {str(path)!r} holds non-finite weights (NaN or Inf) in {bad!r}; train the codec again and save it.")
    return config, (c, h, w), state


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> None:
    weights.save_checkpoint(path, checkpoint)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    # Checkpoints of the first format carried no digest: they still load.
    return weights.load_checkpoint(path, fmt=MODEL_FORMAT, owner="gan-codec", fix="delete it, or pass resume=False to overwrite it", require_digest=False)
