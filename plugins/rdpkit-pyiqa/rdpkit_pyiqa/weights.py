"""Loading pyiqa's weight files safely.

pyiqa, and the torchvision and timm code it calls, read checkpoints with
``torch.load(..., weights_only=False)``, which runs whatever a pickled file holds, and read
files from the caches without checking them (torch hub checks the sha256 prefix in a
file's name only while downloading it). While a metric is built, `safe_loading` makes
every ``torch.load`` read tensors and plain containers only, and checks a file whose name
carries a sha256 prefix (``PieAPPv0.1-0937b014.pth``, torch hub's convention) against it
first. `check_finite` then refuses a network whose weights hold NaN or Inf, which would
make every value NaN.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from rdpkit import WeightsUnavailable

# torch.load is replaced for the duration of one construction.
_LOCK = threading.Lock()
# At least 8 hex digits: shorter runs after a dash are ordinary words ("model-add.pth"), not hashes.
_HASH_PREFIX = r"-([a-f0-9]{8,64})\."


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_hash_prefix(metric: str, path: str) -> None:
    """Refuse `path` when its name carries a sha256 prefix that its content does not have."""
    name = os.path.basename(path)
    match = re.search(_HASH_PREFIX, name)
    if match is None:
        return
    digest = _sha256(path)
    if not digest.startswith(match.group(1)):
        raise WeightsUnavailable(
            f"{metric} cannot use {name!r} in {os.path.dirname(os.path.abspath(path))}: its sha256 {digest[:12]}… does not start with "
            f"{match.group(1)!r} as its name says, so it is damaged or was replaced; delete it and put the published file there."
        )


@contextmanager
def safe_loading(metric: str) -> Iterator[None]:
    """Within the block, ``torch.load`` reads tensors only and checks hash-named files first."""
    real_load = torch.load

    def load(f: Any, *args: Any, **kwargs: Any) -> Any:
        path = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", None)
        if isinstance(path, str) and os.path.isfile(path):
            check_hash_prefix(metric, path)
        kwargs["weights_only"] = True
        try:
            return real_load(f, *args, **kwargs)
        except pickle.UnpicklingError:
            # torch's own message advises weights_only=False, the path that runs the file's code.
            name = os.path.basename(path) if isinstance(path, str) else "a weights file"
            raise WeightsUnavailable(
                f"{metric} needs {name!r}, which holds Python objects besides tensors that rdpkit does not unpickle "
                "because that can run code from the file; use another metric, or a copy of the file saved as plain tensors."
            ) from None

    with _LOCK:
        torch.load = load
        try:
            yield
        finally:
            torch.load = real_load


def check_finite(metric: str, net: torch.nn.Module) -> None:
    """Refuse a network with a NaN or infinite parameter or buffer."""
    for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsUnavailable(f"{metric} loaded non-finite weights (NaN or Inf) into {name!r}, so every value would be NaN; delete its weight files and put the published ones back.")
