"""Named degradations of an image batch: noise, blur, JPEG, contrast, shift.

Used to make distorted copies for scoring, initialisations for the recovery test and
severity ladders for metric sanity checks. A degradation is a component, written like every
other (rdpkit.options): ``gaussian,sigma=0.1``, ``blur,sigma=2``, ``jpeg,quality=10``,
``contrast,factor=0.5``, ``shift,pixels=1``; ``noise`` is white uniform noise that replaces the
image. ``KIND:LEVEL`` is short for the kind with its one option: ``jpeg:10`` is
``jpeg,quality=10``, ``gaussian:0.1`` is ``gaussian,sigma=0.1``.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from .errors import InputError, suggestion
from .options import Component, format_value, parse_value

if TYPE_CHECKING:  # torch is imported where images are degraded: the command line reads KINDS and SPELLINGS without it
    import torch

KINDS = {
    "noise": "white uniform noise in [0, 1] replacing the image",
    "gaussian": "additive Gaussian noise of standard deviation SIGMA, clipped to [0, 1]",
    "blur": "Gaussian blur of standard deviation SIGMA pixels",
    "jpeg": "JPEG compression at QUALITY (1-100) through Pillow",
    "contrast": "contrast scaled by FACTOR around the image mean",
    "shift": "translation by PIXELS right and down (edge pixels repeated)",
}
#: Each kind's one option (the LEVEL of the short form ``KIND:LEVEL``), with an example value; noise has none.
OPTIONS = {"gaussian": ("sigma", 0.1), "blur": ("sigma", 2), "jpeg": ("quality", 10), "contrast": ("factor", 0.5), "shift": ("pixels", 1)}
#: How degradations are written, for help texts and errors.
SPELLINGS = "one of gaussian,sigma=S | blur,sigma=S | jpeg,quality=Q | contrast,factor=F | shift,pixels=P | noise (jpeg:10 is short for jpeg,quality=10)"


def kind(spec: str | Component) -> str:
    """The kind a degradation names, as written (``jpeg`` for ``jpeg:10`` and ``jpeg,quality=10``), not checked."""
    if isinstance(spec, Component):
        return spec.name
    return spec.strip().partition(",")[0].partition(":")[0].strip()


def _level(text: str) -> object:
    """The LEVEL of ``KIND:LEVEL``: a TOML value, or a number as Python reads it (``.5``, as earlier versions did)."""
    value = parse_value(text)
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def parse(spec: str | Component) -> Component:
    """The degradation `spec` as a checked component with its option: ``"jpeg:10"`` → ``jpeg,quality=10``."""
    text = str(spec)
    name = kind(spec)
    if name not in KINDS:
        hint = suggestion(name, KINDS) or f"write {SPELLINGS}."
        raise InputError(f"unknown degradation {text!r}; {hint}")
    if isinstance(spec, Component):
        component = spec
    elif ":" in spec.partition(",")[0]:  # the short form KIND:LEVEL
        level = spec.partition(":")[2].strip()
        if name == "noise":
            raise InputError(f"noise takes no level, got {text!r}; write noise.")
        component = Component(name, {OPTIONS[name][0]: _level(level)} if level else {})
    else:
        component = Component.parse(spec, what="degradation")
    option, example = OPTIONS.get(name, (None, None))
    unknown = [k for k in component.options if k != option]
    if unknown:
        hint = suggestion(unknown[0], [option]) if option else ""
        takes = f"{name} takes only {option}, e.g. {name},{option}={example}." if option else "noise takes no option."
        raise InputError(f"degradation {text!r} has no option {unknown[0]!r}; {hint or takes}")
    if option is None:
        return component
    value = component.options.get(option)
    if value is None:
        raise InputError(f"degradation {text!r} needs its {option}, e.g. {name},{option}={example} (or {name}:{example}).")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InputError(f"degradation {text!r} needs a numeric level: its {option} must be one number, e.g. {name},{option}={example}.")
    if name == "jpeg" and not 1 <= value <= 100:
        raise InputError(f"JPEG quality must lie in 1..100, got {value:g}.")
    if name in ("gaussian", "blur", "contrast") and not 0 <= value < math.inf:
        raise InputError(f"the {option} of {name} must be a non-negative finite number, got {value:g}.")
    if name == "shift" and not math.isfinite(value):
        raise InputError(f"the shift must be a finite number of pixels, got {value:g}.")
    return component


def short(spec: str | Component) -> str:
    """The degradation `spec` in its short form, the one spelling stores keep: ``jpeg,quality=10`` and ``jpeg:10`` → ``jpeg:10``; ``noise``.

    Earlier versions took only the short form, so stores written then hold it: both spellings find their trials.
    """
    component = parse(spec)
    option = OPTIONS.get(component.name, (None,))[0]
    return f"{component.name}:{format_value(component.options[option])}" if option else component.name


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

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
    import torch
    from PIL import Image

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


def degrade(x: torch.Tensor, spec: str | Component, seed: int = 0) -> torch.Tensor:
    """Apply the degradation `spec` (see `parse`) to every image of the batch `x` (values stay in [0, 1])."""
    import torch
    import torch.nn.functional as F

    component = parse(spec)
    name = component.name
    level = float(component.options[OPTIONS[name][0]]) if name in OPTIONS else 0.0
    gen = torch.Generator().manual_seed(seed)
    if name == "noise":
        return torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    if name == "gaussian":
        return (x + level * torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)).clamp(0, 1)
    if name == "blur":
        return gaussian_blur(x, level).clamp(0, 1)
    if name == "jpeg":
        return jpeg(x, int(level))
    if name == "contrast":
        mean = x.mean(dim=(-3, -2, -1), keepdim=True)
        return (mean + level * (x - mean)).clamp(0, 1)
    k = round(level)
    if k == 0:
        return x
    pad = abs(k)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    h, w = x.shape[-2:]
    return padded[..., pad - k : pad - k + h, pad - k : pad - k + w]
