"""A sweep preset over the shipped learned codecs and JPEG/WebP on the held-out photographs.

``learned-codecs-heldout``: the shipped hyperprior (five rates) and factorized model (five
rates) against JPEG (Pillow, 4:2:0) and WebP at a quality sweep each, on astronaut, coffee
and china (never used in training), scaled and centre-cropped to 384×384. Nothing is trained:
the codecs load the shipped models. `rdpkit report` then gives the BD-rate table against JPEG
(the first codec) and the R-D curves. Under 10 minutes on a 2-core CPU.
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
