"""JPEG through Pillow (libjpeg), with the quality factor as the rate knob."""

from __future__ import annotations

from typing import Any

from .options import check_int
from .pillow import PillowCodec


class JPEG(PillowCodec):
    """Baseline JPEG, 4:2:0 chroma subsampling for RGB, quality 1 (smallest) to 95 (largest)."""

    format = "JPEG"

    def __init__(self, quality: int = 75) -> None:
        # Pillow documents qualities above 95 as wasteful: they disable parts of the compression.
        self.quality = check_int(quality, 1, 95, "JPEG quality")

    def save_options(self) -> dict[str, Any]:
        return {"quality": self.quality, "subsampling": "4:2:0", "optimize": False}
