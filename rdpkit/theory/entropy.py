"""Entropies and mutual information of finite distributions, in bits.

Zero-probability terms contribute 0 (the limit of t·log t as t → 0), so the binary
entropy is defined on the whole closed interval [0, 1].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _plogp(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    safe = np.where(t > 0, t, 1.0)
    return np.where(t > 0, safe * np.log2(safe), 0.0)


def binary_entropy(a: ArrayLike) -> np.ndarray:
    """Hb(a) = −a log2 a − (1 − a) log2(1 − a), elementwise, for a in [0, 1]."""
    a = np.asarray(a, dtype=np.float64)
    return -(_plogp(a) + _plogp(1.0 - a))


def ternary_entropy(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Ht(a, b): the entropy of (a, b, 1 − a − b), elementwise, in bits."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return -(_plogp(a) + _plogp(b) + _plogp(1.0 - a - b))


def entropy(pmf: ArrayLike) -> float:
    """H(X) in bits of a probability vector."""
    return float(-_plogp(np.asarray(pmf, dtype=np.float64)).sum())


def mutual_information(source_pmf: ArrayLike, channel: ArrayLike) -> float:
    """I(X; X̂) in bits for X ~ source_pmf and the channel p(x̂|x) (rows sum to 1)."""
    p = np.asarray(source_pmf, dtype=np.float64)
    w = np.asarray(channel, dtype=np.float64)
    joint = p[:, None] * w
    q = joint.sum(axis=0)
    independent = p[:, None] * q[None, :]
    ratio = np.where(joint > 0, joint / np.where(independent > 0, independent, 1.0), 1.0)
    return float(max((joint * np.log2(ratio)).sum(), 0.0))
