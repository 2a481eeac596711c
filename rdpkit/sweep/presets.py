"""Built-in sweeps: `rdpkit sweep --preset NAME`.

Both reproduce Blau & Michaeli's MNIST experiment (ICML 2019, section 4.1) on scikit-learn's
8×8 digits with the GAN codec of the `rdpkit-gan-codec` plugin: an encoder whose `dim`
outputs are quantised to `levels` values (rate ≤ dim·log2 L bits per digit), a stochastic
decoder, and a loss E[‖x − x̂‖²] + λ·W1 with a WGAN-GP critic. The perception index is the
W1 estimate of a fresh critic trained on held-out digits against the decoded ones.

- ``digits-smoke``: a handful of short trials (under 3 minutes on a 2-core CPU); for tests
  and quick checks, not for conclusions.
- ``digits``: rates from 2 to 16 bits per digit × four perception weights, at a scale a
  2-core CPU finishes in under 30 minutes. Its figures show the paper's three findings:
  perception worsens as rate falls along the λ = 0 curve; at a fixed rate, larger λ trades
  distortion for perception; the R-D curve rises when perception is constrained.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError, suggestion
from .config import SweepConfig

_CRITIC = {"steps": 300, "batch_size": 64}

PRESETS: dict[str, dict[str, Any]] = {
    "digits-smoke": {
        "sweep": {"name": "digits-smoke", "seeds": [0]},
        "data": {"source": "digits", "split": [0.6, 0.2, 0.2]},
        "codec": [{
            "name": "gan",
            "options": {"noise": 0.5},
            "grid": {"dim": [2, 4], "levels": [4]},
            "lambdas": [0.0, 0.1],
            "training_distortion": "mse",
            "fit": {"steps": 150, "batch_size": 64},
        }],
        "evaluate": {"distortions": ["mse"], "divergences": ["wasserstein-sliced"], "critic": "wasserstein-critic",
                     "critic_options": {"steps": 100, "batch_size": 64}, "samples": 8},
    },
    "digits": {
        "sweep": {"name": "digits", "seeds": [0]},
        "data": {"source": "digits", "split": [0.6, 0.2, 0.2]},
        "codec": [{
            "name": "gan",
            "options": {"noise": 0.5},
            # (dim, L) pairs giving 2, 4, 6, 8 and 16 bits per digit, as dim × log2 L
            "grid": {"dim": [1, 2, 3, 4, 8], "levels": [4]},
            "lambdas": [0.0, 0.02, 0.1, 0.5],
            "training_distortion": "mse",
            "fit": {"steps": 1200, "batch_size": 64},
        }],
        "evaluate": {"distortions": ["mse"], "divergences": ["wasserstein-sliced", "mmd"], "critic": "wasserstein-critic",
                     "critic_options": _CRITIC, "samples": 16},
    },
}


def preset(name: str) -> SweepConfig:
    """The built-in sweep called `name`."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; {suggestion(name, PRESETS) or 'the presets are ' + ', '.join(PRESETS)}.")
    return SweepConfig.from_dict(PRESETS[name])
