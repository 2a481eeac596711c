"""Bjøntegaard delta rate: the average rate difference between two R-D curves at equal distortion.

BD-rate (Bjøntegaard, VCEG-M33, 2001; piecewise-cubic variant, VCEG-AL22 / JVET common
test conditions) interpolates log-rate as a function of distortion for each codec, over the
distortion interval both curves cover, and reports ``exp(mean difference) − 1`` in percent:
negative when the test codec needs fewer bits than the anchor for the same distortion.
The distortion axis may be any quality or distortion measure (PSNR, MSE, 1 − SSIM); only the
interval both curves share matters, not the direction.

`bd_rate_at_perception` is the perception-aware counterpart: it compares the two codecs'
R-D curves at (approximately) equal perception index, built as Blau & Michaeli (ICML 2019,
footnote 8) build theirs: among the trials whose perception index is at most P, the lowest
distortion at each rate.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError
from .pareto import lower_envelope

Method = Literal["pchip", "cubic"]
METHODS = ("pchip", "cubic")
_MIN_POINTS = {"pchip": 2, "cubic": 4}


def _curve(rate: ArrayLike, distortion: ArrayLike, which: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    r, d = np.asarray(rate, dtype=np.float64).ravel(), np.asarray(distortion, dtype=np.float64).ravel()
    if r.shape != d.shape:
        raise InputError(f"the {which} curve has {r.size} rates but {d.size} distortions; give one of each per point.")
    if r.size < _MIN_POINTS[method]:
        raise InputError(f"the {which} curve has {r.size} point(s) but {method} interpolation needs at least {_MIN_POINTS[method]}; add settings or use method='pchip'.")
    if not (np.isfinite(r).all() and np.isfinite(d).all()) or (r <= 0).any():
        raise InputError(f"the {which} curve needs positive finite rates and finite distortions, got rates {r.tolist()} and distortions {d.tolist()}.")
    order = np.argsort(d)
    d, logr = d[order], np.log(r[order])
    if (np.diff(d) == 0).any():
        raise InputError(f"the {which} curve has two points with the same distortion {d[np.flatnonzero(np.diff(d) == 0)[0]]:.6g}; keep one point per distortion (e.g. its lowest rate).")
    return d, logr


def _integral(d: np.ndarray, logr: np.ndarray, lo: float, hi: float, method: str) -> float:
    if method == "cubic":
        poly = np.polyint(np.polyfit(d, logr, 3))
        return float(np.polyval(poly, hi) - np.polyval(poly, lo))
    from scipy.interpolate import PchipInterpolator

    return float(PchipInterpolator(d, logr).integrate(lo, hi))


def bd_rate(
    anchor_rate: ArrayLike,
    anchor_distortion: ArrayLike,
    test_rate: ArrayLike,
    test_distortion: ArrayLike,
    *,
    method: Method = "pchip",
) -> float:
    """BD-rate of the test curve against the anchor, in percent (negative: the test saves bits).

    `method` is ``"pchip"`` (piecewise-cubic Hermite, monotone, the current standard) or
    ``"cubic"`` (one least-squares cubic per curve, Bjøntegaard's original).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    da, la = _curve(anchor_rate, anchor_distortion, "anchor", method)
    dt, lt = _curve(test_rate, test_distortion, "test", method)
    lo, hi = max(da[0], dt[0]), min(da[-1], dt[-1])
    if not hi > lo:
        raise InputError(f"the two curves share no distortion interval (anchor {da[0]:.6g}..{da[-1]:.6g}, test {dt[0]:.6g}..{dt[-1]:.6g}); BD-rate compares rates where both codecs reach the same distortions.")
    mean_diff = (_integral(dt, lt, lo, hi, method) - _integral(da, la, lo, hi, method)) / (hi - lo)
    return float((np.exp(mean_diff) - 1) * 100)


def curve_at_perception(rate: ArrayLike, distortion: ArrayLike, perception: ArrayLike, p_max: float) -> tuple[np.ndarray, np.ndarray]:
    """The R-D curve of the points with perception index ≤ `p_max`: (rates, distortions), by rate."""
    r, d, p = (np.asarray(a, dtype=np.float64).ravel() for a in (rate, distortion, perception))
    if not r.size == d.size == p.size:
        raise InputError(f"rate, distortion and perception must have one value per point, got {r.size}, {d.size} and {p.size}.")
    keep = np.flatnonzero(p <= p_max)
    if keep.size == 0:
        return np.empty(0), np.empty(0)
    idx = keep[lower_envelope(r[keep], d[keep])]
    return r[idx], d[idx]


def bd_rate_at_perception(
    anchor: tuple[ArrayLike, ArrayLike, ArrayLike],
    test: tuple[ArrayLike, ArrayLike, ArrayLike],
    p_max: float,
    *,
    method: Method = "pchip",
) -> float:
    """BD-rate between two codecs' R-D curves at perception index ≤ `p_max`, in percent.

    `anchor` and `test` are (rates, distortions, perception indices) of each codec's trials.
    """
    ra, da = curve_at_perception(*anchor, p_max)
    rt, dt = curve_at_perception(*test, p_max)
    for which, r in (("anchor", ra), ("test", rt)):
        if r.size < _MIN_POINTS.get(method, 2):
            raise InputError(f"only {r.size} of the {which} codec's trials lie on its R-D curve at perception ≤ {p_max:.6g}; {method} BD-rate needs {_MIN_POINTS.get(method, 2)}: raise p_max or add trials.")
    return bd_rate(ra, da, rt, dt, method=method)
