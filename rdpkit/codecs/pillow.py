"""Codecs that hand each image to a Pillow encoder (JPEG, WebP): the shared framing.

The payload is the concatenation of one file per image, each preceded by its length
(u32, big-endian), so the rate is the real size of the files Pillow writes plus 4 bytes per
image and the container.
"""

from __future__ import annotations

import io
import struct
import warnings
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
    """Base of the Pillow-backed codecs: subclasses name the format, its size limit and the save options."""

    format: ClassVar[str]
    #: The largest width or height the format can store (Pillow's encoder fails beyond it).
    max_side: ClassVar[int]

    @abstractmethod
    def save_options(self) -> dict[str, Any]:
        """Keyword arguments of PIL.Image.save for this format."""

    def smallest_file(self, height: int, width: int) -> int:
        """The fewest bytes a complete file of height×width pixels takes; 0 where the format has no such bound.

        Below Pillow's pixel limit this is what keeps a few hundred bytes from decoding to
        millions of pixels: decoders fill in what a truncated file lacks and call it decoded.
        """
        return 0

    def _encode(self, x: torch.Tensor) -> Bitstream:
        n, c, h, w = x.shape
        if c not in (1, 3):
            raise InputError(f"{self.format} codes gray (1 channel) or RGB (3 channel) images, got {c} channels; select channels with x[:, :3] or convert to gray.")
        if max(h, w) > self.max_side:
            raise InputError(f"{self.format} images can be at most {self.max_side} pixels a side, got {h}×{w}; resize the images or code them in tiles.")
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
        limit = Image.MAX_IMAGE_PIXELS
        if limit is not None and h * w > limit:
            raise CorruptBitstream(f"the {self.format} bitstream holds {h}×{w}-pixel images, more than PIL.Image.MAX_IMAGE_PIXELS = {limit}, Pillow's guard against decompression bombs; if you trust this bitstream, raise that limit (or set it to None) and decode it again.")
        if max(h, w) > self.max_side:
            raise CorruptBitstream(f"the {self.format} bitstream header gives {h}×{w} pixels, but {self.format} stores at most {self.max_side} a side; the bitstream is damaged, re-encode it.")
        payload, offset, images = bits.payload, 0, []
        for i in range(n):
            if offset + _LENGTH.size > len(payload):
                raise CorruptBitstream(f"the {self.format} payload ends before image {i + 1} of {n}; the bitstream is truncated, re-encode it.")
            (size,) = _LENGTH.unpack_from(payload, offset)
            offset += _LENGTH.size
            if size > len(payload) - offset:
                raise CorruptBitstream(f"image {i + 1} of the {self.format} payload announces {size} bytes, but only {len(payload) - offset} remain; the bitstream is truncated, re-encode it.")
            if size < self.smallest_file(h, w):
                raise CorruptBitstream(f"image {i + 1} of the {self.format} payload is {size} bytes, fewer than any complete {h}×{w} {self.format} file takes ({self.smallest_file(h, w)}); the bitstream is truncated or damaged, re-encode it.")
            images.append(self._read(payload[offset : offset + size], (h, w), c, i))
            offset += size
        if offset != len(payload):
            raise CorruptBitstream(f"the {self.format} payload has {len(payload) - offset} bytes after its {n} images; the bitstream is damaged, re-encode it.")
        return torch.cat(images).to(dtype).div_(255)

    def _read(self, data: bytes, size: tuple[int, int], channels: int, index: int) -> torch.Tensor:
        """One image file as a 1×C×H×W uint8 tensor, its size checked against the header before Pillow allocates it."""
        where = f"image {index + 1} of the {self.format} payload"
        # Warnings become errors or silence here, never the caller's noise: Pillow's bomb warning
        # (the header is within its limit, checked above, so the file announces another size) is
        # an error; its metadata warnings (a corrupt EXIF block) are ignored, as rdpkit reads pixels only.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                im = Image.open(io.BytesIO(data), formats=[self.format])
            except (Image.DecompressionBombWarning, Image.DecompressionBombError):
                raise CorruptBitstream(f"{where} announces more pixels than PIL.Image.MAX_IMAGE_PIXELS, not the {size[0]}×{size[1]} of the header; the bitstream is damaged, re-encode it.") from None
            except Exception as exc:
                raise _unreadable(where, exc) from None
            with im:
                if im.size != (size[1], size[0]):
                    raise CorruptBitstream(f"{where} is {im.size[1]}×{im.size[0]} pixels, not the {size[0]}×{size[1]} of the header; the bitstream is damaged, re-encode it.")
                try:
                    im.load()
                    image = im.convert("L" if channels == 1 else "RGB")
                except Exception as exc:
                    raise _unreadable(where, exc) from None
        array = np.array(image, dtype=np.uint8).reshape(size[0], size[1], channels)
        return torch.from_numpy(array).permute(2, 0, 1)[None]


def _unreadable(where: str, exc: Exception) -> CorruptBitstream:
    # Pillow's own message can run to several sentences: keep its first words only.
    reason = str(exc).split(". ")[0].splitlines()[0] if str(exc) else ""
    return CorruptBitstream(f"{where} cannot be decoded ({type(exc).__name__}: {reason.rstrip('.')}); the bitstream is damaged, re-encode it.")
