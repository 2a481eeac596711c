"""Inception-v3 FID features through torch-fidelity, with the weights read safely from the torch hub cache.

torch-fidelity's `FeatureExtractorInceptionV3` is the network FID is defined on (the 2015 TF
graph's weights); it takes 8-bit images and resizes them to 299×299 the way TensorFlow 1.x
did. Its own loader unpickles the weights file in full (``weights_only=False``); here the file
is found in the torch hub cache and read through rdpkit.weights: checked against the hash its
name carries, tensors only, no NaN or Inf.
"""

from __future__ import annotations

from pathlib import Path

import torch

import rdpkit
from rdpkit.interfaces import FeatureExtractor
from rdpkit.weights import check_finite, tensors_only

WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"
URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS}"
HASH_PREFIX = "6726825d"  # the torch hub convention: the file name ends with the first hex digits of its sha256


def weights_path() -> Path:
    """Where torch hub keeps the file (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS


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
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import (
                FeatureExtractorInceptionV3,
            )
        except ImportError:
            raise rdpkit.PluginUnavailable("inception-v3-fid needs torch-fidelity; install it with pip install torch-fidelity.") from None
        # torch-fidelity reads the file with torch.load itself: within the block that read checks the
        # digest in the file's name and takes tensors only.
        with tensors_only("inception-v3-fid"):
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
        check_finite("inception-v3-fid", self.net)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        images = torch.round(x.clamp(0, 1) * 255).to(torch.uint8)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        with torch.no_grad():
            (features,) = self.net(images)
        return features.to(x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32)
