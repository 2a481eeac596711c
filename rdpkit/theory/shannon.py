"""Shannon's R(D) in closed form for a finite source: the uniform m-ary source under Hamming distortion (Cover & Thomas, Problem 10.5)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError
from .entropy import binary_entropy


def uniform_hamming_rd(D: ArrayLike, m: int) -> np.ndarray:
    """R(D) = log2 m − Hb(D) − D log2(m − 1) for D < 1 − 1/m, else 0, in bits."""
    D = np.asarray(D, dtype=np.float64)
    if np.isnan(D).any() or (D < 0).any():
        raise InputError("D must be non-negative; Hamming distortion is a probability of error.")
    if int(m) != m or m < 2:
        raise InputError(f"the alphabet needs at least 2 symbols, got m = {m!r}.")
    knee = 1.0 - 1.0 / m
    Dc = np.minimum(D, knee)
    return np.where(D < knee, np.log2(m) - binary_entropy(Dc) - Dc * np.log2(m - 1), 0.0)
