"""Bjøntegaard deltas: the average rate difference at equal quality, and the average quality difference at equal rate.

BD-rate (Bjøntegaard, VCEG-M33, 2001; piecewise-cubic variant, VCEG-AL22 / JVET common
test conditions) interpolates log-rate as a function of the metric for each codec, over the
metric interval both curves cover, and reports ``exp(mean difference) − 1`` in percent:
negative when the test codec needs fewer bits than the anchor for the same quality. The
metric may be any quality or distortion measure (PSNR, MS-SSIM in dB, MSE, LPIPS, FID);
only the interval both curves share matters, not the direction.

BD-distortion (BD-PSNR when the metric is PSNR) interpolates the metric as a function of
log-rate and reports the mean difference test − anchor over the log-rate interval both
cover, in the metric's own unit: positive means the test codec has the higher value at
equal rate (better for PSNR, worse for LPIPS or FID).

Interpolation: ``pchip`` (piecewise-cubic Hermite, monotone: the JVET common test
conditions' choice and the default), ``cubic`` (one least-squares cubic per curve,
Bjøntegaard's original) or ``akima``. When the curves overlap over less than
`MIN_OVERLAP` of the shorter curve's span, the delta extrapolates little but rests on a
small part of either curve: a `BDOverlapWarning` says so. A curve whose metric does not move
one way with the rate (non-monotone, or flat between two points), two curves that move opposite
ways, or a curve that gets worse with more bits (given `higher_is_better`) give no delta: an
`InputError` says why.

`bd_rate_at_perception` is the perception-aware counterpart: it compares the two codecs'
R-D curves at (approximately) equal perception index, built as Blau & Michaeli (ICML 2019,
footnote 8) build theirs: among the trials whose perception index is at most P, the lowest
distortion at each rate.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError
from .pareto import lower_envelope

Method = Literal["pchip", "cubic", "akima"]
METHODS = ("pchip", "cubic", "akima")
_MIN_POINTS = {"pchip": 2, "cubic": 4, "akima": 2}
#: Below this share of the shorter curve's span in common, a BD value is flagged (BDOverlapWarning).
MIN_OVERLAP = 0.5


class BDOverlapWarning(UserWarning):
    """Two R-D curves share only a small part of their range, so their Bjøntegaard delta says little."""


def _points(rate: ArrayLike, metric: ArrayLike, which: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """A curve's log-rates and metric values, checked."""
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    r, d = np.asarray(rate, dtype=np.float64).ravel(), np.asarray(metric, dtype=np.float64).ravel()
    if r.shape != d.shape:
        raise InputError(f"the {which} curve has {r.size} rates but {d.size} metric values; give one of each per point.")
    if r.size < _MIN_POINTS[method]:
        raise InputError(f"the {which} curve has {r.size} point(s) but {method} interpolation needs at least {_MIN_POINTS[method]}; add settings or use method='pchip'.")
    # Beyond ±1e100 no metric is measured, and the interpolants' slopes would overflow.
    if not (np.isfinite(r).all() and np.isfinite(d).all()) or (r <= 0).any() or (np.abs(d) > 1e100).any():
        raise InputError(f"the {which} curve needs positive finite rates and finite metric values (within ±1e100), got rates {r.tolist()} and values {d.tolist()}.")
    return np.log(r), d


def _direction(log_rate: np.ndarray, metric: np.ndarray, which: str, higher_is_better: bool | None) -> int:
    """+1 when the curve's metric rises with the rate, −1 when it falls; InputError when it does neither throughout."""
    steps = np.sign(np.diff(metric[np.argsort(log_rate, kind="stable")]))
    shown = [round(float(v), 6) for v in metric[np.argsort(log_rate, kind="stable")][:12]]
    if (steps == 0).any() or len(set(steps.tolist())) > 1:
        raise InputError(f"the {which} curve's metric does not move one way with the rate (by increasing rate: {shown}); "
                         "a Bjøntegaard delta needs a monotone curve: keep its points on the rate-distortion front.")
    direction = int(steps[0])
    if higher_is_better is not None and direction != (1 if higher_is_better else -1):
        raise InputError(f"the {which} curve's metric gets worse as the rate rises (by increasing rate: {shown}); "
                         "a codec's curve improves with more bits, so this one is mislabelled or broken.")
    return direction


def _check_directions(la: np.ndarray, da: np.ndarray, lt: np.ndarray, dt: np.ndarray, higher_is_better: bool | None) -> None:
    """Both curves monotone, the same way (and the right way, when it is known)."""
    if _direction(la, da, "anchor", higher_is_better) != _direction(lt, dt, "test", higher_is_better):
        raise InputError("the anchor's metric and the test's move opposite ways with the rate, so they cannot measure the same quality; check the files' columns.")


def _sorted_by(x: np.ndarray, y: np.ndarray, which: str, axis: str) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x)
    x, y = x[order], y[order]
    if (np.diff(x) == 0).any():
        raise InputError(f"the {which} curve has two points with the same {axis} {x[np.flatnonzero(np.diff(x) == 0)[0]]:.6g}; keep one point per {axis} (e.g. its lowest rate).")
    return x, y


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """∫ y(x) dx over [lo, hi], y interpolated through the points."""
    if method == "cubic":
        poly = np.polyint(np.polyfit(x, y, 3))
        return float(np.polyval(poly, hi) - np.polyval(poly, lo))
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    if method == "akima" and x.size >= 3:
        return float(Akima1DInterpolator(x, y).integrate(lo, hi))
    return float(PchipInterpolator(x, y).integrate(lo, hi))  # Akima through two points is the same straight line


def overlap(anchor: ArrayLike, test: ArrayLike) -> float:
    """The share of the shorter curve's span (on one axis) that both curves cover, in [0, 1]."""
    a, t = np.asarray(anchor, dtype=np.float64), np.asarray(test, dtype=np.float64)
    common = min(a.max(), t.max()) - max(a.min(), t.min())
    shorter = min(a.max() - a.min(), t.max() - t.min())
    return float(np.clip(common / shorter, 0, 1)) if shorter > 0 else 0.0


def _common(a: np.ndarray, t: np.ndarray, axis: str) -> tuple[float, float]:
    lo, hi = max(a[0], t[0]), min(a[-1], t[-1])
    if not hi > lo:
        raise InputError(f"the two curves share no {axis} interval (anchor {a[0]:.6g}..{a[-1]:.6g}, test {t[0]:.6g}..{t[-1]:.6g}); a Bjøntegaard delta compares codecs where both reach the same {axis}s.")
    share = overlap(a, t)
    if share < MIN_OVERLAP:
        warnings.warn(f"the two curves share {share:.0%} of the shorter one's {axis} span (below {MIN_OVERLAP:.0%}); the delta rests on a small part of either curve.",
                      BDOverlapWarning, stacklevel=3)
    return lo, hi


def bd_rate(
    anchor_rate: ArrayLike,
    anchor_distortion: ArrayLike,
    test_rate: ArrayLike,
    test_distortion: ArrayLike,
    *,
    method: Method = "pchip",
    higher_is_better: bool | None = None,
) -> float:
    """BD-rate of the test curve against the anchor, in percent (negative: the test saves bits).

    The "distortion" may be any quality or distortion measure; `method` is ``"pchip"``,
    ``"cubic"`` or ``"akima"`` (see the module docstring); `higher_is_better`, when given,
    refuses a curve that gets worse with more bits.
    """
    la, da = _points(anchor_rate, anchor_distortion, "anchor", method)
    lt, dt = _points(test_rate, test_distortion, "test", method)
    _check_directions(la, da, lt, dt, higher_is_better)
    da, la = _sorted_by(da, la, "anchor", "metric value")
    dt, lt = _sorted_by(dt, lt, "test", "metric value")
    lo, hi = _common(da, dt, "metric value")
    mean_diff = (_integral(dt, lt, lo, hi, method) - _integral(da, la, lo, hi, method)) / (hi - lo)
    return float((np.exp(mean_diff) - 1) * 100)


def bd_distortion(
    anchor_rate: ArrayLike,
    anchor_metric: ArrayLike,
    test_rate: ArrayLike,
    test_metric: ArrayLike,
    *,
    method: Method = "pchip",
    higher_is_better: bool | None = None,
) -> float:
    """BD-distortion (BD-PSNR for PSNR): the mean of test − anchor at equal rate, in the metric's unit (`higher_is_better` as in `bd_rate`)."""
    la, da = _points(anchor_rate, anchor_metric, "anchor", method)
    lt, dt = _points(test_rate, test_metric, "test", method)
    _check_directions(la, da, lt, dt, higher_is_better)
    la, da = _sorted_by(la, da, "anchor", "rate")
    lt, dt = _sorted_by(lt, dt, "test", "rate")
    lo, hi = _common(la, lt, "rate")
    return float((_integral(lt, dt, lo, hi, method) - _integral(la, da, lo, hi, method)) / (hi - lo))


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


def strictest_shared_perception(
    anchor: tuple[ArrayLike, ArrayLike, ArrayLike],
    test: tuple[ArrayLike, ArrayLike, ArrayLike],
    *,
    method: Method = "pchip",
) -> tuple[float, float]:
    """The lowest perception bound P at which both codecs' R-D curves at perception ≤ P give a BD-rate, and that BD-rate.

    One level for all codecs (the median, say) often leaves a natural-looking but costly anchor
    and a cheap but less natural test codec with no distortion range in common; the strictest
    level the two share compares them where both can be. The candidates are the trials' own
    perception values, in increasing order.
    """
    levels = np.unique(np.concatenate([np.asarray(anchor[2], float), np.asarray(test[2], float)]))
    for p in levels[np.isfinite(levels)]:
        try:
            with warnings.catch_warnings():  # the search tries many levels; only the one returned may warn
                warnings.simplefilter("ignore", BDOverlapWarning)
                bd_rate_at_perception(anchor, test, float(p), method=method)
        except InputError:
            continue
        return float(p), bd_rate_at_perception(anchor, test, float(p), method=method)
    raise InputError("the two codecs' R-D curves share a distortion range at no perception level; compare them without a perception bound.")
