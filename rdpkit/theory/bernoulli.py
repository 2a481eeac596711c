"""R(D, P) of a Bernoulli source with Hamming distortion and total-variation perception, in closed form.

Blau & Michaeli, "Rethinking Lossy Compression: The Rate-Distortion-Perception Tradeoff",
ICML 2019, eq. (5) and (6) and the P ≥ p case of its supplementary material.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError
from .entropy import binary_entropy, ternary_entropy


def _check(name: str, v: np.ndarray, upper: float = np.inf) -> None:
    if np.isnan(v).any() or (v < 0).any() or (v > upper).any():
        bad = v[np.isnan(v) | (v < 0) | (v > upper)].ravel()[0]
        where = "[0, 1]" if upper == 1 else "[0, ∞]"
        raise InputError(f"{name} must lie in {where}, got {bad!r}; pass values in that range.")


def bernoulli_rd(D: ArrayLike, p: ArrayLike) -> np.ndarray:
    """Shannon's R(D) = Hb(p) − Hb(D) for D < min(p, 1 − p), else 0, in bits (Cover & Thomas, Thm. 10.3.1)."""
    D, p = np.asarray(D, dtype=np.float64), np.asarray(p, dtype=np.float64)
    _check("D", D)
    _check("p", p, upper=1.0)
    p = np.minimum(p, 1.0 - p)
    return np.where(D < p, binary_entropy(p) - binary_entropy(np.minimum(D, 0.5)), 0.0)


def bernoulli_rdp(D: ArrayLike, P: ArrayLike, p: ArrayLike) -> np.ndarray:
    """R(D, P) in bits of X ~ Bern(p) under Hamming distortion and TV perception d_TV = |p − p̂|.

    D, P and p broadcast against each other; P may be ``inf`` (Shannon's R(D)). p > 1/2 is
    handled by relabelling the two symbols, which leaves Hamming distortion and TV unchanged.
    """
    D, P, p = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (D, P, p)))
    _check("D", D)
    _check("P", P)
    _check("p", p, upper=1.0)
    p = np.minimum(p, 1.0 - p)
    q = 1.0 - p
    D = np.minimum(D, 1.0)  # Hamming distortion never exceeds 1, so larger D change nothing
    shannon = bernoulli_rd(D, p)
    active = P < p  # for P ≥ p the perception constraint never binds
    Pa = np.where(active, P, 0.0)
    denominator = 1.0 - 2.0 * (p - Pa)
    # D1 = P / (1 − 2(p − P)) is 0/0 only at p = 1/2, P = 0, where its limit is 1/2.
    d1 = np.where(denominator > 0, Pa / np.where(denominator > 0, denominator, 1.0), 0.5)
    d2 = 2.0 * p * q - (q - p) * Pa
    # Evaluated everywhere, used on [D1, D2) only, where all its probabilities lie in [0, 1].
    middle = (2.0 * binary_entropy(p) + binary_entropy(p - Pa)
              - ternary_entropy((D - Pa) / 2.0, p) - ternary_entropy((D + Pa) / 2.0, q))
    constrained = np.select([D < d1, D < d2], [shannon, middle], 0.0)
    return np.where(active, np.maximum(constrained, 0.0), shannon)
