"""hific model files: safetensors with the configuration as metadata, written by `storage.save_model`, read here.

They are written as the other models are (weights, integer tables, a record with the file's
sha256 beside it); only reading differs, because `storage.load_model` knows the factorized and
hyperprior configurations alone. The checks are the same: the record's sha256 (and the
shipped digest) before anything is read, the format, the configuration, finite weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rdpkit.errors import InputError, WeightsUnavailable
from rdpkit.weights import check_finite

from .hific_config import KIND, HificConfig
from .storage import MODEL_FORMAT, read_model_file

FIX = "retrain it with `rdpkit learned-codecs train --kind hific`"


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as f:
        return f.metadata() or {}


def is_hific_file(path: str | Path) -> bool:
    """Whether `path` is a model file holding a hific configuration (False for anything else, unreadable files included)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        return f'"kind": "{KIND}"' in _metadata(p).get("config", "")
    except Exception:  # noqa: BLE001 (not a safetensors file: the caller's own loader says what it is)
        return False


def load_hific(path: str | Path, expected_sha256: str | None = None, fix: str = FIX) -> tuple[HificConfig, dict[str, torch.Tensor]]:
    """Configuration and float32 state of a hific model file, verified against its record (and `expected_sha256`)."""
    where, meta, state = read_model_file(path, expected_sha256, fix)
    if meta.get("format") != MODEL_FORMAT:
        raise WeightsUnavailable(f"{where} is not a model file of rdpkit-learned-codecs (format {meta.get('format')!r}); {fix}.")
    try:
        config = HificConfig.from_json(meta.get("config", ""))
    except (InputError, ValueError, TypeError) as exc:
        kind = meta.get("config", "")
        if '"kind": "hyperprior"' in kind or '"kind": "factorized"' in kind:
            raise InputError(f"{where} holds a {'hyperprior' if 'hyperprior' in kind else 'factorized'} model, not a hific one; load it with that codec, or start a hific codec from it (start=PATH).") from None
        raise WeightsUnavailable(f"the model file {where} holds an invalid hific configuration ({exc}); {fix}.") from None
    check_finite(f"the model file {where}", state)
    return config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
