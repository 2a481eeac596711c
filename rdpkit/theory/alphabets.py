"""Finite sources and distortion matrices to feed the solver."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError


def hamming(m: int) -> np.ndarray:
    """The m×m Hamming distortion: 0 on the diagonal, 1 elsewhere."""
    if int(m) != m or m < 1:
        raise InputError(f"an alphabet needs a positive whole number of symbols, got {m!r}.")
    return 1.0 - np.eye(int(m))


def squared_error(points: ArrayLike) -> np.ndarray:
    """Δ(x, x̂) = (x − x̂)² between the reconstruction and source alphabets, both `points`."""
    x = np.asarray(points, dtype=np.float64).ravel()
    return (x[:, None] - x[None, :]) ** 2


def discretised_gaussian(n: int, sigma: float = 1.0, width: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """n equally spaced points on [−width·σ, width·σ] and the pmf of N(0, σ²) restricted to them."""
    if int(n) != n or n < 2:
        raise InputError(f"a discretised Gaussian needs at least 2 points, got {n!r}.")
    points = np.linspace(-width * sigma, width * sigma, int(n))
    weights = np.exp(-0.5 * (points / sigma) ** 2)
    return points, weights / weights.sum()
