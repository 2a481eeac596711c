"""Sweep presets that reproduce Blau & Michaeli's MNIST experiment (ICML 2019, section 4.1) on scikit-learn's 8×8 digits.

The gan codec: an encoder whose `dim` outputs are quantised to `levels` values (rate ≤
dim·log2 L bits per digit), a stochastic decoder, and a loss E[‖x − x̂‖²] + λ·W1 with a WGAN-GP
critic. The perception index is the W1 estimate of a fresh critic trained on held-out digits
against the decoded ones.

- ``digits-smoke``: a handful of short trials (under 3 minutes on a 2-core CPU); for tests
  and quick checks, not for conclusions.
- ``digits``: rates from 2 to 16 bits per digit × four perception weights, at a scale a
  2-core CPU finishes in under 30 minutes. Its figures show the paper's three findings:
  perception worsens as rate falls along the λ = 0 curve; at a fixed rate, larger λ trades
  distortion for perception; the R-D curve rises when perception is constrained.
"""

from __future__ import annotations

from typing import Any


def _digits(name: str, *, dims: list[int], lambdas: list[float], steps: int, critic_steps: int, divergences: list[str], samples: int) -> dict[str, Any]:
    """The paper's digits experiment at one scale: dims × L = 4 × λ, one seed."""
    return {
        "sweep": {"name": name, "seeds": [0]},
        "data": {"source": "digits", "split": [0.6, 0.2, 0.2]},
        "codec": [{
            "name": "rdpkit-gan-codec:gan,noise=0.5,distortion=mse",
            "label": "gan",
            "grid": {"dim": dims, "levels": [4]},  # dim·log2 L = 2·dim bits per digit
            "lambdas": lambdas,
            "fit": {"steps": steps, "batch_size": 64},
        }],
        "evaluate": {"distortions": ["rdpkit:mse"], "perception": f"rdpkit:wasserstein-critic,steps={critic_steps},batch_size=64",
                     "divergences": [f"rdpkit:{d}" for d in divergences], "samples": samples},
    }


def digits_smoke() -> dict[str, Any]:
    return _digits("digits-smoke", dims=[2, 4], lambdas=[0.0, 0.1], steps=150, critic_steps=100, divergences=["wasserstein-sliced"], samples=8)


def digits() -> dict[str, Any]:
    # λ beyond ~0.05 destabilises this codec's adversarial training at these step counts.
    return _digits("digits", dims=[1, 2, 3, 4, 8], lambdas=[0.0, 0.01, 0.02, 0.05], steps=2000, critic_steps=500,
                   divergences=["wasserstein-sliced", "mmd"], samples=16)
