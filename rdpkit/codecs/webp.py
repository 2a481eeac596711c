"""WebP through Pillow (libwebp): lossy with a quality factor, or lossless."""

from __future__ import annotations

from typing import Any

from PIL import features

from ..errors import PluginUnavailable
from .options import check_int
from .pillow import PillowCodec


class WebP(PillowCodec):
    """WebP; `quality` 0 to 100 (with `lossless=True` it trades encoding effort for size instead)."""

    format = "WEBP"
    max_side = 16383
    # No smallest_file: lossless WebP (VP8L) codes a flat image of any size in a few dozen bytes.

    def __init__(self, quality: int = 80, lossless: bool = False, method: int = 4) -> None:
        if not features.check("webp"):
            raise PluginUnavailable("this Pillow was built without WebP support; install a Pillow wheel from PyPI, which includes libwebp.")
        self.quality = check_int(quality, 0, 100, "WebP quality")
        self.lossless = bool(lossless)
        self.method = check_int(method, 0, 6, "WebP method")

    @property
    def rate_settings(self) -> dict[str, tuple[int, ...]] | None:
        # Lossless, quality trades encoding effort for size at one distortion: no rate knob.
        return None if self.lossless else {"quality": (10, 50, 90)}

    def save_options(self) -> dict[str, Any]:
        return {"quality": self.quality, "lossless": self.lossless, "method": self.method, "exact": True}
