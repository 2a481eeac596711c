"""Files: trained models (safetensors, no pickle), their records, and training checkpoints.

A model file holds the weights (float32, or float16 for shipping), the integer tables the
coder uses, and the configuration as JSON metadata. Next to a file written by
`rdpkit learned-codecs train` lies a JSON record of how it was made (command, seed, data,
steps, software versions, wall time) and the file's sha256, checked before the file is read;
the shipped files are also checked against digests written in the code (zoo.py).

A checkpoint is a `torch.save` of state dicts, tensors and numbers only, read back with
``weights_only=True``, holding the sha256 of its content; it is written to a temporary file
and renamed, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from rdpkit import weights
from rdpkit.errors import InputError, WeightsUnavailable

from .config import ModelConfig

MODEL_FORMAT = "rdpkit-learned-codecs/1"


def state_digest(config: ModelConfig, state: dict[str, torch.Tensor]) -> str:
    """sha256 of the configuration and every tensor as stored (dtype, shape, bytes), in name order."""
    h = hashlib.sha256(config.to_json().encode())
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_model(path: str | Path, config: ModelConfig, state: dict[str, torch.Tensor], record: dict[str, Any], *, half: bool = False) -> dict[str, Any]:
    """Write weights and tables to `path` (safetensors) and `record` plus the file's sha256 next to it; returns the record written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder; give the path of the .safetensors file to write, such as {str(path / 'model.safetensors')!r}.")
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous() for k, v in state.items()}
    weights.save_tensors(path, tensors, {"format": MODEL_FORMAT, "config": config.to_json()})
    return weights.write_record(path, record)


def read_model_file(path: str | Path, expected_sha256: str | None, fix: str) -> tuple[str, dict[str, str], dict[str, torch.Tensor]]:
    """A model file's quoted path, metadata and tensors, read only after its sha256 matched its record (and
    `expected_sha256`). Every refusal is one sentence ending with `fix`; the caller checks format and configuration."""
    from safetensors import safe_open

    path = weights.verify_file(path, "the model file", fix=fix, written_by="`rdpkit learned-codecs train` or codec.save()", expected_sha256=expected_sha256)
    where = repr(str(path))
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return where, f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
    except Exception as exc:  # noqa: BLE001 (safetensors raises its own errors on damaged files)
        raise WeightsUnavailable(f"{where} is not a readable model file of rdpkit-learned-codecs ({type(exc).__name__}: {str(exc)[:200]}); {fix}.") from None


def load_model(path: str | Path, expected_sha256: str | None = None, fix: str = "retrain it with `rdpkit learned-codecs train`") -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Configuration and float32 state of a model file, verified against its record (and `expected_sha256`)."""
    where, meta, state = read_model_file(path, expected_sha256, fix)
    try:
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {MODEL_FORMAT!r}")
        config = ModelConfig.from_json(meta["config"])
    except InputError as exc:
        raise WeightsUnavailable(f"the model file {where} holds an invalid configuration ({exc}); {fix}.") from None
    except Exception as exc:  # noqa: BLE001 (safetensors, JSON and key errors alike mean a foreign or damaged file)
        raise WeightsUnavailable(f"{where} is not a readable model file of rdpkit-learned-codecs ({type(exc).__name__}: {str(exc)[:200]}); {fix}.") from None
    bad = weights.first_non_finite(state)
    if bad is not None:
        raise WeightsUnavailable(f"the model file {where} holds non-finite weights (NaN or Inf) in {bad!r}; {fix}.")
    return config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> None:
    weights.save_checkpoint(path, checkpoint)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    return weights.load_checkpoint(path, fmt=MODEL_FORMAT, owner="rdpkit-learned-codecs training", fix="delete it, or pass resume=False to start afresh")
