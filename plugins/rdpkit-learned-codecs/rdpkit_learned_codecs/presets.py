"""Sweep presets over the shipped learned codecs and JPEG/WebP on the held-out photographs.

``learned-codecs-heldout``: the shipped hyperprior (five rates) and factorized model (five
rates) against JPEG (Pillow, 4:2:0) and WebP at a quality sweep each, on astronaut, coffee
and china (never used in training), scaled and centre-cropped to 384×384. Nothing is trained:
the codecs load the shipped models. `rdpkit report` then gives the BD-rate table against JPEG
(the first codec) and the R-D curves. Under 10 minutes on a 2-core CPU.

``hific-heldout``: the rate-distortion-perception picture of the same photographs. JPEG,
WebP, the shipped hyperprior (five rates) and the shipped hific pairs (at each shipped quality,
λ_p = 0 and the λ_p > 0 shipped at that quality, read from the zoo: the sweep's `paired`
perception weights), at 384×384, nothing trained. The
perception index is the one of the README's P-D figure (made with `rdpkit evaluate`): the Fréchet distance between
NIQE's statistics of the real and the decoded 64×64 patches (`[evaluate] patch`: three images
give 183 patches a side, where whole images would give three), with a bootstrap interval; the
NIQE critic is measured beside it. `rdpkit report` gives the BD-rate table (plain, and at
perception no worse than the median), the R-D curves at constant perception and the P-D plane,
where each hific pair is one equi-rate line from λ_p = 0 to λ_p > 0.
"""

from __future__ import annotations

from typing import Any

PATCH = 64
#: Fréchet distance between Gaussians fitted to NIQE's natural-scene statistics of the patches (computed on 32×32 blocks):
#: hand-crafted, no download, and built to see what a blurring or a grid of artefacts does to local contrast. (PIM's
#: self-trained representation, tried first, put the shipped pair within each other's intervals: it was trained on
#: distortions of the photographs it describes, not on what makes them look real.)
DIVERGENCE = 'frechet,extractor="nss,patch=32"'
CRITIC = "niqe,patch=32"


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
    from .models.zoo import SHIPPED_HIFIC

    qualities = sorted({q for q, _ in SHIPPED_HIFIC})
    weights = [sorted(lam_p for q_, lam_p in SHIPPED_HIFIC if q_ == q) for q in qualities]
    return {
        "sweep": {"name": "hific-heldout", "seeds": [0]},
        "data": {"source": "builtin:held-out", "size": 384, "split": [0.0, 0.0, 1.0]},
        "codec": [
            {"name": "rdpkit:jpeg", "label": "jpeg", "grid": {"quality": [5, 10, 20, 30, 50, 75]}},
            {"name": "rdpkit:webp", "label": "webp", "grid": {"quality": [5, 20, 40, 60, 80]}},
            {"name": "rdpkit-learned-codecs:hyperprior", "label": "hyperprior (shipped)", "grid": {"quality": [1, 2, 3, 4, 5]}},
            {"name": "rdpkit-learned-codecs:hific", "label": "hific (shipped)", "paired": {"quality": qualities, "lambdas": weights}},
        ],
        # The perception index of the README's P-D figure: a divergence between the real and decoded 64×64 patches
        # (183 a side from three 384×384 images); NIQE beside it, as the no-reference critic.
        "evaluate": {"distortions": ["rdpkit:mse", "rdpkit:ms-ssim"], "perception": f"rdpkit:{DIVERGENCE}", "patch": PATCH,
                     "critics": [f"rdpkit:{CRITIC}"], "bootstrap": 100, "samples": 3},
    }
