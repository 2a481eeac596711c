"""The `pim` distortion: symmetrised KL between PIM's marginal encodings of the two images."""

from __future__ import annotations

from pathlib import Path

import torch

import rdpkit
from rdpkit.errors import InputError

from .checkpoint import load as load_checkpoint


class PIM(rdpkit.Distortion):
    """Perceptual Information Metric (Bhardwaj et al., NeurIPS 2020), trained without labels by rdpkit-pim.

    `checkpoint` is a file written by ``rdpkit pim train`` (default: the checkpoint shipped
    with the package, verified by its sha256); it must match the sha256 in the record
    ``rdpkit pim train`` wrote next to it, when that record is there, and `sha256`, when given.
    Images are N×3×H×W (grey images N×1×H×W are repeated to three channels), at least
    16×16 for the default architecture. The value is in nats, averaged over locations
    and scales.
    """

    min_size = 16

    def __init__(self, checkpoint: str | Path | None = None, sha256: str | None = None) -> None:
        super().__init__()
        if checkpoint is not None and not isinstance(checkpoint, (str, Path)):
            raise InputError(f"checkpoint must be the path of a file written by `rdpkit pim train`, got {type(checkpoint).__name__}.")
        if checkpoint is None and sha256 is not None:
            raise InputError("sha256 is only checked for a checkpoint you name; the shipped one is always verified, so pass checkpoint=PATH too.")
        self.model = load_checkpoint(checkpoint, expected_sha256=sha256)
        self.model.requires_grad_(False)
        self.min_size = self.model.config.min_size

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise InputError(f"pim takes RGB or grey images (3 or 1 channels), got {x.shape[1]} channels; convert them first.")
        if x.shape[1] == 1:
            x, x_hat = x.expand(-1, 3, -1, -1), x_hat.expand(-1, 3, -1, -1)
        dtype = next(self.model.parameters()).dtype
        return self.model.distance(x.to(dtype), x_hat.to(dtype)).to(x.dtype)

