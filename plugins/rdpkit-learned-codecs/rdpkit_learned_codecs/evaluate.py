"""Rate-distortion curves on held-out photographs, BD-rate against JPEG, and the figure of both.

Each image is coded on its own, at its own size (no resizing: crops of the full-resolution
photographs), and its rate is measured from the bytes of its bitstream, container included
(rdpkit.codecs.measure.round_trip). A curve point is the mean bits per pixel and the mean
PSNR over the images at one setting, as CompressAI reports them. BD-rate is rdpkit.bdrate's
(piecewise-cubic, over the PSNR range both curves reach).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.figure import Figure

import rdpkit
from rdpkit.bdrate import bd_rate
from rdpkit.codecs.measure import round_trip
from rdpkit.data import HELD_OUT, load_image

JPEG_QUALITIES = (5, 10, 15, 20, 30, 40, 50, 65)


@dataclass(frozen=True)
class Point:
    setting: str
    bpp: float
    psnr: float


def held_out(crop: int | None = 512) -> list[torch.Tensor]:
    """The held-out photographs (astronaut, coffee, china), centre crops of side `crop` at full resolution (whole images: None)."""
    images = [load_image(f"builtin:{name}") for name in HELD_OUT]
    if crop is None:
        return images
    out = []
    for x in images:
        h, w = x.shape[-2:]
        s = min(crop, h, w)
        top, left = (h - s) // 2, (w - s) // 2
        out.append(x[..., top : top + s, left : left + s].contiguous())
    return out


def curve(codecs: dict[str, Any], images: list[torch.Tensor]) -> list[Point]:
    """One point per codec setting: the mean bpp (from the bytes) and mean PSNR over `images`."""
    points = []
    for setting, codec in codecs.items():
        bpp, psnr = [], []
        for x in images:
            coded = round_trip(codec, x)
            bpp.append(coded.rate.bpp)
            psnr.append(float(rdpkit.psnr(x, coded.x_hat)))
        points.append(Point(setting, sum(bpp) / len(bpp), sum(psnr) / len(psnr)))
    return points


def jpeg_curve(images: list[torch.Tensor], qualities: tuple[int, ...] = JPEG_QUALITIES) -> list[Point]:
    return curve({f"jpeg q={q}": rdpkit.codec("jpeg", quality=q) for q in qualities}, images)


def bd_rate_against(anchor: list[Point], test: list[Point]) -> float:
    """BD-rate of `test` against `anchor` on PSNR, in percent (negative: `test` needs fewer bits)."""
    return bd_rate([p.bpp for p in anchor], [p.psnr for p in anchor], [p.bpp for p in test], [p.psnr for p in test])


def overlap(anchor: list[Point], test: list[Point]) -> tuple[float, float]:
    """The PSNR interval both curves reach (where BD-rate compares them)."""
    return max(min(p.psnr for p in anchor), min(p.psnr for p in test)), min(max(p.psnr for p in anchor), max(p.psnr for p in test))


def figure(curves: dict[str, list[Point]], title: str) -> Figure:
    """R-D curves, bits per pixel against PSNR, one line per codec."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    for label, points in curves.items():
        pts = sorted(points, key=lambda p: p.bpp)
        ax.plot([p.bpp for p in pts], [p.psnr for p in pts], marker="o", markersize=4, label=label)
    ax.set_xlabel("bits per pixel (from the bitstream's bytes, container included)")
    ax.set_ylabel("PSNR (dB), mean over images")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
