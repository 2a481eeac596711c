"""What the transform codecs and hific share: the rdpkit `Codec` interface over a `LatentCoder` they hold.

A subclass says where its model comes from (and how it trains) and how ŷ becomes pixels
(`_synthesise`); coding, entropy decoding, rate reports and moving to a device are the
coder's, the same for both.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
import torch

from rdpkit.bitstream import Bitstream
from rdpkit.errors import InputError
from rdpkit.interfaces import Codec
from rdpkit.validation import check_images, usable_device

from ..models.config import ModelConfig
from ..models.hific_config import HificConfig
from ..networks.codec_model import CodecModel
from .latent_coder import LatentCoder, RateReport, not_trained


class LatentCodec(Codec):
    """A codec whose bitstream is its `coder`'s, built from `model` whenever the model changes (`_prepare`)."""

    KIND: ClassVar[str]
    model: CodecModel | None
    coder: LatentCoder | None
    source: str
    rate_index: int
    max_pixels: int

    @abstractmethod
    def _identity(self) -> ModelConfig | HificConfig:
        """The configuration the fingerprint digests with the weights."""

    @abstractmethod
    def _synthesise(self, y_hat: torch.Tensor, rate: int, seed: int | None) -> torch.Tensor:
        """Pixels (N×3×H×W, not clamped) from ŷ (float64, μ added) at rate index `rate`, with the decode `seed`."""

    def _prepare(self) -> None:
        self.coder = LatentCoder(self._trained(), self._identity(), self.KIND, self.source, self.max_pixels)

    @property
    def codec_name(self) -> str:
        return self.info.name if self.info is not None else self.KIND

    @property
    def fitted(self) -> bool:
        return self.model is not None

    @property
    def fingerprint(self) -> str:
        return "" if self.coder is None else self.coder.fingerprint

    def _trained(self) -> CodecModel:
        if self.model is None:
            raise not_trained(self.codec_name)
        return self.model

    def _coder(self) -> LatentCoder:
        if self.coder is None:
            raise not_trained(self.codec_name)
        return self.coder

    def _encode(self, x: torch.Tensor) -> Bitstream:
        return self._coder().encode(x, self.rate_index, self.codec_name)[0]

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        return self._coder().decode(bits, lambda y_hat, rate: self._synthesise(y_hat, rate, seed))

    def symbols(self, bits: Bitstream | bytes) -> dict[str, np.ndarray]:
        """What a bitstream holds, by entropy decoding alone (`LatentCoder.symbols`)."""
        return self._coder().symbols(bits)

    def rate(self, x: torch.Tensor) -> RateReport:
        """Code `x` and report its rate from the bytes, the model's likelihood estimate, and what the tables assign."""
        check_images(x, min_size=self.min_size)
        return self._coder().rate(x, self.rate_index, self.codec_name)

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> LatentCodec:
        """Move the networks to a device or floating-point dtype; tables, integer network and fingerprint stay as they are."""
        if dtype is not None and dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            raise InputError(f"dtype must be a floating-point torch dtype, got {dtype!r}.")
        self._coder().to(usable_device(device) if device is not None else None, dtype)
        return self
