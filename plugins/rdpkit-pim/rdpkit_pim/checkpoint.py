"""PIM checkpoints: safetensors files holding the weights and the architecture, checked before use.

Next to every checkpoint that `rdpkit-pim train` writes lies a JSON record of how it was
made (command, seed, data, software versions, wall time). The checkpoint that ships with
the package is verified against the sha256 recorded below before it is loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from rdpkit.errors import WeightsUnavailable

from .model import Config, PIMModel

FORMAT = "rdpkit-pim/1"
SHIPPED = Path(__file__).parent / "weights" / "pim-small.safetensors"
#: sha256 of SHIPPED, written when the project trained it (see SHIPPED's .json record).
SHIPPED_SHA256 = "4b53a32b65dd67180950808156d171b670aac9ce106aaa91d104d264bf5b6923"


def record_path(checkpoint: str | Path) -> Path:
    """Where the JSON record of how `checkpoint` was made lies."""
    return Path(checkpoint).with_suffix(".json")


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save(model: PIMModel, path: str | Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write the weights to `path` (safetensors) and `record` plus the file's sha256 next to it; returns the record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": FORMAT, "config": json.dumps(model.config.as_dict())})
    record = dict(record, checkpoint=path.name, sha256=sha256(path), bytes=path.stat().st_size)
    record_path(path).write_text(json.dumps(record, indent=2) + "\n")
    return record


def load(path: str | Path | None = None, *, expected_sha256: str | None = None) -> PIMModel:
    """A PIM model in eval mode from `path` (default: the shipped checkpoint, always verified).

    With `expected_sha256`, the file must have exactly that digest. Any problem (missing
    file, digest mismatch, damaged file, not a PIM checkpoint) raises WeightsUnavailable
    with one sentence.
    """
    if path is None:
        path, expected_sha256 = SHIPPED, SHIPPED_SHA256
    path = Path(path)
    if not path.is_file():
        fix = "reinstall rdpkit-pim" if path == SHIPPED else "train one with `rdpkit-pim train --out CHECKPOINT` or give the right path"
        raise WeightsUnavailable(f"the PIM checkpoint {str(path)!r} does not exist; {fix}.")
    if expected_sha256:
        digest = sha256(path)
        if digest != expected_sha256.lower():
            raise WeightsUnavailable(
                f"the PIM checkpoint {str(path)!r} has sha256 {digest[:12]}… but {expected_sha256[:12]}… was expected, so it is damaged or "
                "was replaced; reinstall rdpkit-pim (for the shipped checkpoint) or retrain it with `rdpkit-pim train`."
            )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsUnavailable(f"the PIM checkpoint {str(path)!r} cannot be read as safetensors ({exc}); retrain it with `rdpkit-pim train`.") from None
    if meta.get("format") != FORMAT:
        raise WeightsUnavailable(f"{str(path)!r} is not a PIM checkpoint (format {meta.get('format')!r}, expected {FORMAT!r}); give a file written by `rdpkit-pim train`.")
    model = PIMModel(Config.from_dict(json.loads(meta["config"])))
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise WeightsUnavailable(f"the PIM checkpoint {str(path)!r} does not match its own architecture (missing {missing[:3]}, unexpected {unexpected[:3]}); retrain it with `rdpkit-pim train`.")
    return model.eval()
