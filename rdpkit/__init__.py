"""rdpkit: a registry of perceptual metrics and codecs, and the harnesses that judge them.

    >>> import rdpkit
    >>> d = rdpkit.distortion("ssim")          # 1 − SSIM
    >>> d(x, x_hat)                            # one value per image, lower is better

Importing rdpkit loads no plugin and does not import torch; both happen on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .errors import (
    AmbiguousNameError,
    CorruptBitstream,
    InputError,
    PluginError,
    PluginUnavailable,
    RdpkitError,
    UnknownNameError,
    WeightsUnavailable,
)
from .hookspecs import hookimpl
from .registry import (
    Registry,
    available,
    codec,
    critic,
    distortion,
    divergence,
    features,
    get_registry,
)
from .spec import KINDS, Info, Spec

__version__ = "0.1.0"

# Public names that need torch, resolved on first access.
_LAZY = {
    "Distortion": "rdpkit.interfaces",
    "Divergence": "rdpkit.interfaces",
    "Estimate": "rdpkit.interfaces",
    "Codec": "rdpkit.interfaces",
    "Critic": "rdpkit.interfaces",
    "FeatureExtractor": "rdpkit.interfaces",
    "psnr": "rdpkit.interfaces",
    "Bitstream": "rdpkit.bitstream",
    "to_tensor": "rdpkit.data",
    "load_image": "rdpkit.data",
    "load_source": "rdpkit.data",
    "Component": "rdpkit.options",
    "degrade": "rdpkit.degrade",
    "Measures": "rdpkit.measures",
    "Dataset": "rdpkit.datasets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    # Submodules too (`rdpkit.options.Component.parse(...)` after a bare `import rdpkit`),
    # imported on first access so that `import rdpkit` stays light.
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'rdpkit' has no attribute {name!r}")


__all__ = [
    "AmbiguousNameError", "CorruptBitstream", "InputError", "PluginError", "PluginUnavailable", "RdpkitError",
    "UnknownNameError", "WeightsUnavailable", "hookimpl", "Registry", "available", "codec", "critic", "distortion",
    "divergence", "features", "get_registry", "KINDS", "Info", "Spec", *_LAZY,
]
