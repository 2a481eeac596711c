"""JPEG through Pillow (libjpeg), with the quality factor as the rate knob."""

from __future__ import annotations

import math
from typing import Any

from .options import check_int
from .pillow import PillowCodec


class JPEG(PillowCodec):
    """Baseline JPEG, 4:2:0 chroma subsampling for RGB, quality 1 (smallest) to 95 (largest)."""

    format = "JPEG"
    max_side = 65500
    rate_settings = {"quality": (10, 50, 90)}

    def __init__(self, quality: int = 75) -> None:
        # Pillow documents qualities above 95 as wasteful: they disable parts of the compression.
        self.quality = check_int(quality, 1, 95, "JPEG quality")

    def save_options(self) -> dict[str, Any]:
        return {"quality": self.quality, "subsampling": "4:2:0", "optimize": False}

    def smallest_file(self, height: int, width: int) -> int:
        # Every 8×8 block of the full-size component codes its DC coefficient with a Huffman code,
        # at least 1 bit long, whether the file is baseline or progressive (Pillow writes no
        # arithmetic-coded JPEG, the one kind that could be shorter); libjpeg would decode a file
        # that stops early to gray and report success.
        return math.ceil(math.ceil(height / 8) * math.ceil(width / 8) / 8)
