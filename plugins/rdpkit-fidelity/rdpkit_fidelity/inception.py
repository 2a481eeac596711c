"""Inception-v3 FID features through torch-fidelity, with the weights read safely from the torch hub cache.

torch-fidelity's `FeatureExtractorInceptionV3` is the network FID is defined on (the 2015 TF
graph's weights); it takes 8-bit images and resizes them to 299×299 the way TensorFlow 1.x
did. Its own loader unpickles the weights file in full (``weights_only=False``); here the file
is found in the torch hub cache, checked against the hash its name carries, and every load
goes through ``torch.load(weights_only=True)``, which reads tensors and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path
from unittest import mock

import torch

import rdpkit
from rdpkit.interfaces import FeatureExtractor

WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"
URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS}"
HASH_PREFIX = "6726825d"  # the torch hub convention: the file name ends with the first hex digits of its sha256
_LOADING = threading.Lock()


def weights_path() -> Path:
    """Where torch hub keeps the file (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS


def _checked(path: Path) -> dict[str, torch.Tensor]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(HASH_PREFIX):
        raise rdpkit.InputError(f"{str(path)!r} is not torch-fidelity's Inception file: its sha256 starts {digest[:8]}, not {HASH_PREFIX}; delete it and fetch it again.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (a damaged or hostile file: never unpickled in full)
        raise rdpkit.InputError(f"{str(path)!r} cannot be read as a file of weights ({type(exc).__name__}); delete it and fetch it again.") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise rdpkit.InputError(f"{str(path)!r} does not hold a table of weights; delete it and fetch it again.")
    if not all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()):
        raise rdpkit.InputError(f"{str(path)!r} holds non-finite weights; delete it and fetch it again.")
    return state


class InceptionFID(FeatureExtractor):
    """The 2048 pool features of FID's Inception-v3; `weights` a path, or None for the torch hub cache."""

    feature_kind = "pretrained"
    min_size = 16

    def __init__(self, weights: str | None = None, download: bool = False) -> None:
        super().__init__()
        path = Path(weights).expanduser() if weights else weights_path()
        if path.is_dir():
            raise rdpkit.InputError(f"weights {str(path)!r} is a folder; give the path of {WEIGHTS}.")
        if not path.is_file():
            if not download or weights:
                raise rdpkit.WeightsUnavailable(
                    f"inception-v3-fid needs the weights file {WEIGHTS}, which is not in {str(path.parent)!r}; put it there "
                    f"(it is published at {URL}), or create the extractor with download=True on a machine with network access.")
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(URL, str(path), hash_prefix=HASH_PREFIX)
        state = _checked(path)
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise rdpkit.PluginUnavailable("inception-v3-fid needs torch-fidelity; install it with pip install torch-fidelity.") from None
        # torch-fidelity loads the file with torch.load itself: hand it the tensors already read safely instead.
        with _LOADING, mock.patch("torch.load", functools.partial(lambda *_, **__: state)):
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        images = torch.round(x.clamp(0, 1) * 255).to(torch.uint8)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        with torch.no_grad():
            (features,) = self.net(images)
        return features.to(x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32)
