"""Rate-distortion-perception theory: closed forms and a numerical solver.

    >>> from rdpkit import theory
    >>> theory.bernoulli_rdp(D=0.05, P=0.02, p=0.1)                 # bits, ICML 2019 eq. 6
    >>> theory.solve_rdp([0.9, 0.1], theory.hamming(2), D=0.05, P=0.02, perception="tv").rate

Modules: `entropy` (Hb, Ht, I), `bernoulli` (closed form), `solver` (any finite source, convex
perception indices from `divergences`), `gaussian` (Zhang et al. W2 closed form, CVPR 2018
Example 1), `alphabets` (distortion matrices), `figures` (the papers' plots).
The solver and the figures import cvxpy and matplotlib on first use only.
"""

from __future__ import annotations

import importlib
from typing import Any

from .alphabets import discretised_gaussian, hamming, squared_error
from .bernoulli import bernoulli_rd, bernoulli_rdp
from .entropy import binary_entropy, entropy, mutual_information, ternary_entropy
from .gaussian import (
    gaussian_dr,
    gaussian_dr_perfect_realism,
    gaussian_drp_w2,
    gaussian_rd,
    gaussian_rdp_w2,
    mmse_linear,
    perception_distortion_linear,
)
from .shannon import uniform_hamming_rd

_LAZY = {
    "RDPProblem": "rdpkit.theory.solver",
    "RDPSolution": "rdpkit.theory.solver",
    "SolverFailed": "rdpkit.theory.solver",
    "solve_rdp": "rdpkit.theory.solver",
    "PERCEPTIONS": "rdpkit.theory.divergences",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rdpkit.theory' has no attribute {name!r}")


__all__ = [
    "PERCEPTIONS",
    "RDPProblem",
    "RDPSolution",
    "SolverFailed",
    "bernoulli_rd",
    "bernoulli_rdp",
    "binary_entropy",
    "discretised_gaussian",
    "entropy",
    "gaussian_dr",
    "gaussian_dr_perfect_realism",
    "gaussian_drp_w2",
    "gaussian_rd",
    "gaussian_rdp_w2",
    "hamming",
    "mmse_linear",
    "mutual_information",
    "perception_distortion_linear",
    "solve_rdp",
    "squared_error",
    "ternary_entropy",
    "uniform_hamming_rd",
]
