"""Sweep presets over the shipped learned codecs and JPEG/WebP on the held-out photographs.

``learned-codecs-heldout``: the shipped hyperprior (five rates) and factorized model (five
rates) against JPEG (Pillow, 4:2:0) and WebP at a quality sweep each, on astronaut, coffee
and china (never used in training), scaled and centre-cropped to 384×384. Nothing is trained:
the codecs load the shipped models. `rdpkit report` then gives the BD-rate table against JPEG
(the first codec) and the R-D curves. Under 10 minutes on a 2-core CPU.

``hific-heldout``: the rate-distortion-perception picture of the same photographs. JPEG,
WebP, the shipped hyperprior (five rates) and the shipped hific pairs (λ_p = 0 and λ_p > 0 at
each shipped rate, through the sweep's perception weights), at 384×384, nothing trained. The
perception index is NIQE (patches of 32): with three test images, a divergence between image
sets has three samples a side, while a no-reference critic scores each image on its 144
patches. `rdpkit report` gives the BD-rate table (plain, and at perception no worse than the
median), the R-D curves at constant perception and the P-D plane, where each hific pair is one
equi-rate line from λ_p = 0 to λ_p > 0.
"""

from __future__ import annotations

from typing import Any


def heldout() -> dict[str, Any]:
    return {
        "sweep": {"name": "learned-codecs-heldout", "seeds": [0]},
        "data": {"source": "builtin:held-out", "size": 384, "split": [0.0, 0.0, 1.0]},
        "codec": [
            {"name": "rdpkit:jpeg", "label": "jpeg", "grid": {"quality": [5, 10, 20, 30, 50, 75, 90]}},
            {"name": "rdpkit:webp", "label": "webp", "grid": {"quality": [5, 20, 40, 60, 80, 95]}},
            {"name": "rdpkit-learned-codecs:hyperprior", "label": "hyperprior (shipped)", "grid": {"quality": [1, 2, 3, 4, 5]}},
            {"name": "rdpkit-learned-codecs:factorized", "label": "factorized (shipped)", "grid": {"quality": [1, 2, 3, 4, 5]}},
        ],
        # Three test images make any divergence a rough index; the sliced Wasserstein distance is cheap and needs no training.
        "evaluate": {"distortions": ["rdpkit:mse", "rdpkit:ms-ssim"], "perception": "rdpkit:wasserstein-sliced", "samples": 3},
    }


def hific_heldout() -> dict[str, Any]:
    from .shipped import DEFAULT_HIFIC_LAM_P, SHIPPED_HIFIC

    qualities = sorted({q for q, _ in SHIPPED_HIFIC}) or [1]
    return {
        "sweep": {"name": "hific-heldout", "seeds": [0]},
        "data": {"source": "builtin:held-out", "size": 384, "split": [0.0, 0.0, 1.0]},
        "codec": [
            {"name": "rdpkit:jpeg", "label": "jpeg", "grid": {"quality": [5, 10, 20, 30, 50, 75]}},
            {"name": "rdpkit:webp", "label": "webp", "grid": {"quality": [5, 20, 40, 60, 80]}},
            {"name": "rdpkit-learned-codecs:hyperprior", "label": "hyperprior (shipped)", "grid": {"quality": [1, 2, 3, 4, 5]}},
            {"name": "rdpkit-learned-codecs:hific", "label": "hific (shipped)", "grid": {"quality": qualities}, "lambdas": [0.0, DEFAULT_HIFIC_LAM_P]},
        ],
        "evaluate": {"distortions": ["rdpkit:mse", "rdpkit:ms-ssim"], "perception": "rdpkit:niqe,patch=32", "samples": 3},
    }
