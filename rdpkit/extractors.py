"""rdpkit's own feature extractors (images → N×F), registered like any plugin's.

- ``nss``: natural-scene statistics, the 36 numbers NIQE measures on each P×P patch (the
  shape of the local contrast-normalised coefficients and of their neighbour products),
  averaged over an image's patches. Hand-crafted: no weights, no download, so FID and KID on
  them exist on any machine, though they are not comparable with Inception-based numbers.
"""

from __future__ import annotations

import torch

from .critics.niqe import niqe_features
from .errors import InputError
from .interfaces import FeatureExtractor


class NaturalSceneStatistics(FeatureExtractor):
    """NIQE's 36 patch statistics, averaged over the P×P patches of each image."""

    feature_kind = "hand-crafted"

    def __init__(self, patch: int = 32) -> None:
        super().__init__()
        if isinstance(patch, bool) or not isinstance(patch, int) or patch < 8 or patch % 2:
            raise InputError(f"patch must be an even number of pixels, at least 8, got {patch!r}.")
        self.patch = patch
        self.min_size = patch

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return niqe_features(x, self.patch)[0].mean(1).to(x.dtype)
