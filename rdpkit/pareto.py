"""The admissible set: points that no other point beats on every criterion (all lower-is-better)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError


def non_dominated(points: ArrayLike) -> np.ndarray:
    """A boolean mask of the rows of an N×K array that no other row dominates.

    Row *j* dominates row *i* when it is no worse on every column and strictly better on at
    least one; every column is lower-is-better (negate higher-is-better ones first). Equal
    rows do not dominate each other, so duplicates are kept together.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise InputError(f"points must be a non-empty N×K array (one row per algorithm, one column per criterion), got shape {p.shape}.")
    if not np.isfinite(p).all():
        raise InputError("points contain NaN or Inf; drop the trials whose measurements failed before asking for the admissible set.")
    no_worse = (p[:, None, :] <= p[None, :, :]).all(axis=2)  # [j, i]: j is no worse than i everywhere
    better = (p[:, None, :] < p[None, :, :]).any(axis=2)
    dominated = (no_worse & better).any(axis=0)
    return ~dominated


def lower_envelope(rate: ArrayLike, distortion: ArrayLike) -> np.ndarray:
    """Indices of the R-D points on the lower-left staircase, sorted by rate.

    At each rate the lowest distortion; then only points whose distortion is below every
    point of lower rate: the operational R-D curve of a set of trials.
    """
    r, d = np.asarray(rate, dtype=np.float64), np.asarray(distortion, dtype=np.float64)
    mask = non_dominated(np.stack([r, d], axis=1))
    idx = np.flatnonzero(mask)
    order = np.lexsort((d[idx], r[idx]))
    idx = idx[order]
    keep, best = [], np.inf
    for i in idx:  # duplicates of one (R, D) point keep only the first
        if d[i] < best:
            keep.append(i)
            best = d[i]
    return np.asarray(keep, dtype=np.int64)
