"""PIM's representation z as a feature extractor: realism measured in the space PIM encodes images into.

For each image, per scale, the mean and the standard deviation over locations of the marginal
encoding's mean E[z | x]: 2·d·scales numbers. The talk in shared/papers suggests defining
realism on such a representation; FID and KID on these features exist on any machine, with
no download, and are labelled as features of a model this project trained.
"""

from __future__ import annotations

from pathlib import Path

import torch

import rdpkit
from rdpkit.errors import InputError

from .checkpoint import load as load_checkpoint


class PIMFeatures(rdpkit.FeatureExtractor):
    """Per-scale spatial mean and spread of PIM's encoding E[z | x]; `checkpoint` as for the `pim` distortion."""

    feature_kind = "self-trained"

    def __init__(self, checkpoint: str | Path | None = None, sha256: str | None = None) -> None:
        super().__init__()
        if checkpoint is None and sha256 is not None:
            raise InputError("sha256 is only checked for a checkpoint you name; the shipped one is always verified, so pass checkpoint=PATH too.")
        self.model = load_checkpoint(checkpoint, expected_sha256=sha256)
        self.model.requires_grad_(False)
        self.min_size = self.model.config.min_size

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise InputError(f"pim takes RGB or grey images (3 or 1 channels), got {x.shape[1]} channels; convert them first.")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        dtype = next(self.model.parameters()).dtype
        with torch.no_grad():
            per_scale = [torch.cat([mean.flatten(1, 2).mean(1), mean.flatten(1, 2).std(1, unbiased=False)], 1) for mean, _ in self.model.encode(x.to(dtype))]
        return torch.cat(per_scale, 1).to(x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32)
