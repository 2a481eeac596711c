"""Codecs that hand each image to a Pillow encoder (JPEG, WebP): the shared framing.

The payload is the concatenation of one file per image, each preceded by its length
(u32, big-endian), so the rate is the real size of the files Pillow writes plus 4 bytes per
image and the container.
"""

from __future__ import annotations

import io
import struct
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from ..bitstream import Bitstream
from ..data import to_numpy
from ..errors import CorruptBitstream, InputError
from ..interfaces import Codec
from .headers import check_shape, dtype_name, header_dtype

_LENGTH = struct.Struct(">I")


class PillowCodec(Codec):
    """Base of the Pillow-backed codecs: subclasses name the format and the save options."""

    format: ClassVar[str]

    @abstractmethod
    def save_options(self) -> dict[str, Any]:
        """Keyword arguments of PIL.Image.save for this format."""

    def _encode(self, x: torch.Tensor) -> Bitstream:
        n, c, h, w = x.shape
        if c not in (1, 3):
            raise InputError(f"{self.format} codes gray (1 channel) or RGB (3 channel) images, got {c} channels; select channels with x[:, :3] or convert to gray.")
        chunks = []
        for image in x:
            buffer = io.BytesIO()
            Image.fromarray(to_numpy(image)).save(buffer, format=self.format, **self.save_options())
            data = buffer.getvalue()
            chunks.append(_LENGTH.pack(len(data)) + data)
        return Bitstream(self.codec_name, (n, c, h, w), b"".join(chunks), {"dtype": dtype_name(x)})

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        n, c, h, w = check_shape(bits, channels=(1, 3))
        dtype = header_dtype(bits)
        payload, offset, images = bits.payload, 0, []
        for i in range(n):
            if offset + _LENGTH.size > len(payload):
                raise CorruptBitstream(f"the {self.format} payload ends before image {i + 1} of {n}; the bitstream is truncated, re-encode it.")
            (size,) = _LENGTH.unpack_from(payload, offset)
            offset += _LENGTH.size
            images.append(self._read(payload[offset : offset + size], (h, w), c, i))
            offset += size
        if offset != len(payload):
            raise CorruptBitstream(f"the {self.format} payload has {len(payload) - offset} bytes after its {n} images; the bitstream is damaged, re-encode it.")
        return torch.cat(images).to(dtype) / 255

    def _read(self, data: bytes, size: tuple[int, int], channels: int, index: int) -> torch.Tensor:
        """One image file as a 1×C×H×W uint8 tensor."""
        try:
            with Image.open(io.BytesIO(data), formats=[self.format]) as im:
                im.load()
                image = im.convert("L" if channels == 1 else "RGB")
        except Exception as exc:  # noqa: BLE001 (Pillow raises OSError, SyntaxError, ValueError... on bad data)
            raise CorruptBitstream(f"image {index + 1} of the {self.format} payload cannot be decoded ({type(exc).__name__}: {exc}); the bitstream is damaged, re-encode it.") from None
        if image.size != (size[1], size[0]):
            raise CorruptBitstream(f"image {index + 1} decodes to {image.size[1]}×{image.size[0]} pixels, not the {size[0]}×{size[1]} of the header; the bitstream is damaged, re-encode it.")
        array = np.array(image, dtype=np.uint8).reshape(size[0], size[1], channels)
        return torch.from_numpy(array).permute(2, 0, 1)[None]
