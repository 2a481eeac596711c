"""The admissible set: points that no other point beats on every criterion (all lower-is-better).

With standard errors, "beats" means beats by more than the uncertainty of the difference:
point j dominates point i only when, on every criterion, it is either better by more than
z·√(se_i² + se_j²) (the half-width of the interval of the difference at the given
confidence) or equal, and better on at least one. A difference inside its interval decides
nothing, whichever way the point estimates lie. Estimates of one set of images are correlated, so treating them as
independent widens that interval: a claim of domination is then conservative.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError

#: The confidence of every interval the reports compare with.
CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be strictly between 0 and 1, got {confidence!r}.")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _stderr(stderr: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    s = np.asarray(stderr, dtype=np.float64)
    if s.shape != shape:
        raise InputError(f"give one standard error per value: the values have shape {shape}, the standard errors {s.shape}.")
    if (s < 0).any():
        raise InputError("a standard error is negative; standard errors are ≥ 0 (nan where unknown).")
    return s


def _margins(s: np.ndarray, confidence: float) -> np.ndarray:
    """[j, i, ...]: the half-width of the interval of the difference between rows i and j (nan where either is unknown)."""
    with np.errstate(over="ignore"):  # a standard error near the float limit gives an infinite margin: a tie, as it should
        return _z(confidence) * np.hypot(s[:, None, ...], s[None, :, ...])


def non_dominated(points: ArrayLike, stderr: ArrayLike | None = None, *, confidence: float = CONFIDENCE) -> np.ndarray:
    """A boolean mask of the rows of an N×K array that no other row dominates.

    Row *j* dominates row *i* when it is no worse on every column and strictly better on at
    least one; every column is lower-is-better (negate higher-is-better ones first). Equal
    rows do not dominate each other, so duplicates are kept together. With `stderr` (N×K,
    0 for exact values such as rates), "better" means better by more than the `confidence`
    interval of the difference, and "no worse" means better so or equal: a difference within
    the noise keeps both rows. A nan standard error makes its column tell no unequal values
    apart.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise InputError(f"points must be a non-empty N×K array (one row per algorithm, one column per criterion), got shape {p.shape}.")
    if not np.isfinite(p).all():
        raise InputError("points contain NaN or Inf; drop the trials whose measurements failed before asking for the admissible set.")
    margin = 0.0 if stderr is None else _margins(_stderr(stderr, p.shape), confidence)
    clearly = (p[None, :, :] - p[:, None, :]) > margin  # [j, i, k]: j is better than i on k, beyond the noise
    no_worse = (clearly | (p[:, None, :] == p[None, :, :])).all(axis=2)
    dominated = (no_worse & clearly.any(axis=2)).any(axis=0)
    return ~dominated


def indistinguishable(values: ArrayLike, stderr: ArrayLike, *, confidence: float = CONFIDENCE) -> np.ndarray:
    """N×N mask: whether the `confidence` interval of the difference of values i and j holds 0 (False on the diagonal).

    A nan standard error tells its value from none.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise InputError(f"values must be one-dimensional, got shape {v.shape}.")
    tie = ~(np.abs(v[:, None] - v[None, :]) > _margins(_stderr(stderr, v.shape), confidence))
    np.fill_diagonal(tie, False)
    return tie


def samples_to_resolve(values: ArrayLike, stderr: ArrayLike, n: ArrayLike, *, confidence: float = CONFIDENCE) -> np.ndarray:
    """Per value, the samples per set at which it would be told from every value it is now indistinguishable from.

    Standard errors shrink as 1/√n, so the pair (i, j) is resolved at n_i·(z·√(se_i² + se_j²)/|v_i − v_j|)²
    samples, if the difference stays as measured; a value needs the largest of these over its
    ties. 0 for a value with no tie; inf for an exact tie or an unknown standard error.
    """
    v = np.asarray(values, dtype=np.float64)
    tie = indistinguishable(v, stderr, confidence=confidence)
    margin = _margins(_stderr(stderr, v.shape), confidence)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # beyond the float range: never resolved (inf)
        factor = (margin / np.abs(v[:, None] - v[None, :])) ** 2
    factor = np.where(np.isnan(factor), np.inf, factor)
    worst = np.where(tie, factor, 0.0).max(axis=1, initial=0.0)
    needed = np.where(worst > 0, worst * np.broadcast_to(np.asarray(n, dtype=np.float64), v.shape), 0.0)
    return np.where(np.isfinite(needed), np.ceil(needed), needed)


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
