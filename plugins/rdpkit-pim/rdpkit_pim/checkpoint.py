"""PIM checkpoints: safetensors files holding the weights and the architecture, checked before use.

Next to every checkpoint that `rdpkit pim train` writes lies a JSON record of how it was
made (command, seed, data, software versions, wall time) and of the file's sha256; a
checkpoint with a record is verified against it before it is read. The checkpoint that
ships with the package is also verified against the sha256 written below, which a record
replaced along with the file cannot change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from rdpkit.errors import WeightsUnavailable
from rdpkit.weights import first_non_finite, save_tensors, verify_file, write_record

from .model import Config, PIMModel

FORMAT = "rdpkit-pim/1"
SHIPPED = Path(__file__).parent / "weights" / "pim-small.safetensors"
#: sha256 of SHIPPED, written when the project trained it (see SHIPPED's .json record).
SHIPPED_SHA256 = "4b53a32b65dd67180950808156d171b670aac9ce106aaa91d104d264bf5b6923"


def save(model: PIMModel, path: str | Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write the weights to `path` (safetensors) and `record` plus the file's sha256 next to it; returns the record."""
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    path = save_tensors(path, tensors, {"format": FORMAT, "config": json.dumps(model.config.as_dict())})
    return write_record(path, record)


def _config(meta: dict[str, str], where: str, fix: str) -> Config:
    try:
        config = Config.from_dict(json.loads(meta["config"]))
        if min(config.as_dict().values()) < 1:
            raise ValueError(config)
    except (KeyError, ValueError, TypeError, AttributeError):  # missing key, bad JSON, not an object, not integers
        raise WeightsUnavailable(f"the PIM checkpoint {where} has no readable architecture in its metadata (a JSON object of positive integers under 'config'); {fix}.") from None
    return config


def load(path: str | Path | None = None, *, expected_sha256: str | None = None) -> PIMModel:
    """A PIM model in eval mode from `path` (default: the shipped checkpoint, always verified).

    The file must have the sha256 of the record next to it, when there is one, and
    `expected_sha256`, when given. Any problem (missing file, digest mismatch, damaged
    file, not a PIM checkpoint, non-finite weights) raises WeightsUnavailable with one
    sentence; a malformed `expected_sha256` raises InputError.
    """
    if path is None:
        path, expected_sha256 = SHIPPED, SHIPPED_SHA256
    fix = "reinstall rdpkit-pim" if Path(path) == SHIPPED else "train one with `rdpkit pim train --out CHECKPOINT`"
    path = verify_file(path, "the PIM checkpoint", fix=fix, written_by="`rdpkit pim train`", expected_sha256=expected_sha256)
    where = repr(str(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsUnavailable(f"the PIM checkpoint {where} cannot be read as safetensors ({exc}); {fix}.") from None
    if meta.get("format") != FORMAT:
        raise WeightsUnavailable(f"{where} is not a PIM checkpoint (format {meta.get('format')!r}, expected {FORMAT!r}); give a file written by `rdpkit pim train`.")
    bad = first_non_finite(tensors)
    if bad is not None:
        raise WeightsUnavailable(f"the PIM checkpoint {where} holds non-finite weights (NaN or Inf) in {bad!r}, so every distance would be NaN; {fix}.")
    model = PIMModel(_config(meta, where, fix))
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # size mismatches; the first line names the first one
        first = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), "")
        raise WeightsUnavailable(f"the PIM checkpoint {where} holds weights whose shapes do not match its own architecture ({first.rstrip('.')}); {fix}.") from None
    if missing or unexpected:
        raise WeightsUnavailable(f"the PIM checkpoint {where} does not match its own architecture (missing {missing[:3]}, unexpected {unexpected[:3]}); {fix}.")
    return model.eval()
