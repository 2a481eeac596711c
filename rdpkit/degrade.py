"""Named degradations of an image batch: noise, blur, JPEG, contrast, shift.

Used to make distorted copies for scoring, initialisations for the recovery test and
severity ladders for metric sanity checks. A degradation is written ``kind:level``, e.g.
``gaussian:0.1``, ``blur:2``, ``jpeg:10``, ``contrast:0.5``, ``shift:1``; ``noise`` alone is
white uniform noise that replaces the image.
"""

from __future__ import annotations

import io

import torch
import torch.nn.functional as F
from PIL import Image

from .errors import InputError, suggestion

KINDS = {
    "noise": "white uniform noise in [0, 1] replacing the image (level ignored)",
    "gaussian": "additive Gaussian noise of standard deviation LEVEL, clipped to [0, 1]",
    "blur": "Gaussian blur of standard deviation LEVEL pixels",
    "jpeg": "JPEG compression at quality LEVEL (1-95) through Pillow",
    "contrast": "contrast scaled by LEVEL around the image mean",
    "shift": "translation by LEVEL pixels right and down (edge pixels repeated)",
}


def parse(spec: str) -> tuple[str, float]:
    kind, _, level = spec.partition(":")
    if kind not in KINDS:
        hint = suggestion(kind, KINDS) or "the kinds are " + ", ".join(KINDS)
        raise InputError(f"unknown degradation {spec!r}; {hint}")
    if kind == "noise":
        return kind, 0.0
    try:
        value = float(level)
    except ValueError:
        raise InputError(f"degradation {spec!r} needs a numeric level, e.g. {kind}:{ {'jpeg': 10, 'blur': 2, 'shift': 1}.get(kind, 0.1)}.") from None
    if kind == "jpeg" and not 1 <= value <= 100:
        raise InputError(f"JPEG quality must lie in 1..100, got {value:g}.")
    if kind in ("gaussian", "blur", "contrast") and value < 0:
        raise InputError(f"the level of {kind} must be non-negative, got {value:g}.")
    return kind, value


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma == 0:
        return x
    radius = max(1, int(3.5 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w)
    # Reflection needs the image to be wider than the kernel's radius; tiny images repeat their edge instead.
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect" if radius < h else "replicate"), g.view(1, 1, -1, 1))
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect" if radius < w else "replicate"), g.view(1, 1, 1, -1))
    return y.reshape(n, c, h, w)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    from .data import to_numpy, to_tensor

    out = []
    for img in x:
        buf = io.BytesIO()
        Image.fromarray(to_numpy(img)).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf) as im:
            t = to_tensor(im if img.shape[0] == 3 else im.convert("L"))
        out.append(t)
    return torch.cat(out).to(device=x.device, dtype=x.dtype)


def degrade(x: torch.Tensor, spec: str, seed: int = 0) -> torch.Tensor:
    """Apply the degradation `spec` to every image of the batch `x` (values stay in [0, 1])."""
    kind, level = parse(spec)
    gen = torch.Generator().manual_seed(seed)
    if kind == "noise":
        return torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    if kind == "gaussian":
        return (x + level * torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)).clamp(0, 1)
    if kind == "blur":
        return gaussian_blur(x, level).clamp(0, 1)
    if kind == "jpeg":
        return jpeg(x, int(level))
    if kind == "contrast":
        mean = x.mean(dim=(-3, -2, -1), keepdim=True)
        return (mean + level * (x - mean)).clamp(0, 1)
    k = int(round(level))
    if k == 0:
        return x
    pad = abs(k)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    h, w = x.shape[-2:]
    return padded[..., pad - k : pad - k + h, pad - k : pad - k + w]


