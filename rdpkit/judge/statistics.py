"""How well a metric agrees with people: the statistics image-quality papers report.

Everything here is pure numpy/scipy and works on plain score vectors; the harness that
scores images and reads datasets calls it.

**Direction.** rdpkit's distortions and critics are lower-is-better; a similarity index is
higher-is-better; a dataset's MOS is higher-is-better and its DMOS lower-is-better. Every
correlation returned by :func:`agreement` is multiplied by :func:`orientation`, so that a
*positive value always means the metric agrees with people*, whatever the two directions.

**Correlations** (Sheikh, Sabir & Bovik, "A Statistical Evaluation of Recent Full
Reference Image Quality Assessment Algorithms", IEEE TIP 15(11), 2006, §III; VQEG, "Final
report ... validation of objective models of video quality assessment, Phase II", 2003):

- SRCC: Spearman's rank-order correlation, Pearson's correlation of the mid-ranks.
- KRCC: Kendall's τ-b (Kendall, "The treatment of ties in ranking problems", Biometrika
  1945), which corrects for ties.
- PLCC: Pearson's linear correlation of the raw scores with the subjective scores. This is
  what pyiqa's published tables report (``tests/FR_benchmark_results.csv`` of
  chaofengc/IQA-PyTorch: no fit).
- PLCC and RMSE after the fit: the scores x are first mapped to the subjective scale by the
  monotonic 5-parameter logistic of VQEG, as in Sheikh et al. 2006 (their eq. 1)::

      Q(x) = β1 (1/2 − 1/(1 + exp(β2 (x − β3)))) + β4 x + β5

  fitted by (unweighted) nonlinear least squares; PLCC(Q(x), s) and
  RMSE = sqrt(mean((Q(x) − s)²)), in the units of the subjective scores s.

**Fitting the logistic** (:func:`fit_logistic`). Published MATLAB code starts the
Levenberg-Marquardt fit (``nlinfit``) from β = (max(MOS), min(MOS) or 10, mean(score), 1 or
0.1, 0.1) (e.g. the LIVE/VSI scripts; DBCNN's ``verify_performance.m``, which pyiqa copies
as β = (10, 0, mean, 0.1, 0.1)). Those numbers assume a score and MOS scale; they fail on
MSE-like scores of order 1e-4 or PSNR of order 30. Here the fit runs in standardized
coordinates z = (x − mean x)/sd x, u = (s − mean s)/sd s (which the 5-parameter family
absorbs exactly: the β reported are in the original units) from three starts, and the
lowest residual wins:

1. (b1, b2, b3, b4, b5) = (±span(u), 2, 0, 0, 0): a sigmoid across the whole subjective
   range, centred on the mean score (the field's β3 = mean(score));
2. (±span(u)/2, 1, 0, a/2, 0): half sigmoid, half the least-squares line u ≈ a z + c;
3. (±0.1, 1, 0, a, c): the least-squares line itself;

with the sign ± that of the line's slope. The fit is Levenberg-Marquardt
(``scipy.optimize.least_squares(method="lm")``, analytic Jacobian). If the best fit is not
monotonic over the observed scores (the curve must not change the ranking, Sheikh et al.
call it "monotonic logistic"), it is refitted with bounds that make it monotonic
(β2 ≥ 0 and β1, β4 of the trend's sign; trust-region reflective). If every logistic fit
fails, or ends worse than the straight line (which is in the family, β1 = 0), the line is
used: :attr:`LogisticFit.kind` and :attr:`LogisticFit.note` say which happened; nothing
raises. PLCC after the fit is made signed by the direction of the fitted curve (increasing
or decreasing over the observed scores) times :func:`orientation`.

**Intervals** (:func:`agreement`, :func:`paired_difference`, :func:`two_afc`,
:func:`jnd_map`): nonparametric *cluster* bootstrap (Davison & Hinkley, "Bootstrap Methods
and their Application", 1997, §3.8, hierarchical data): the distorted images of one
reference share its content, so the resampling unit is the reference image. Each replicate
draws as many reference groups as there are, with replacement, and each drawn group brings
all its items (a group drawn twice counts twice). Without groups (no-reference sets, BAPPS)
every item is its own group. The interval is the *percentile* interval (Efron & Tibshirani,
"An Introduction to the Bootstrap", 1993, ch. 13) at the requested level, over replicates
where the statistic is defined. A paired difference between two metrics resamples the same
groups for both in each replicate, so the interval of the difference accounts for their
correlation; it is "significant" when it excludes 0.

**BAPPS** (Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep
Features as a Perceptual Metric", CVPR 2018, §3.2 and §5; their ``score_2afc_dataset`` and
``score_jnd_dataset``):

- 2AFC: a triplet (reference, p0, p1) with judge share h (the fraction of judges who found
  p1 closer to the reference) and distances d0 = d(ref, p0), d1 = d(ref, p1) scores h if
  d1 < d0, 1 − h if d0 < d1 and 1/2 if equal: the share of judges who agree with the
  metric's choice. The 2AFC score is the mean over triplets.
- JND mAP: pairs sorted by distance ascending (ties kept in input order); with the fraction
  of judges who saw no difference, ``same``, as a fractional positive label, cumulative
  TP = Σ same and FP = Σ (1 − same) give precision TP/(TP + FP) and recall TP/Σ same; the
  score is the PASCAL VOC (2010 onward) average precision (Everingham et al., IJCV 2010):
  the area under the precision envelope, Σ (r_{k+1} − r_k) max_{j ≥ k+1} p_j over the
  points where recall changes, with sentinels (r, p) = (0, 0) and (1, 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from rdpkit.errors import InputError

__all__ = [
    "MIN_ITEMS",
    "STATISTICS",
    "Agreement",
    "Difference",
    "LogisticFit",
    "Score",
    "agreement",
    "agreement_by_type",
    "fit_logistic",
    "jnd_map",
    "krcc",
    "logistic5",
    "orientation",
    "paired_difference",
    "plcc",
    "srcc",
    "two_afc",
]

MIN_ITEMS = 6
"""Fewest items :func:`agreement` accepts: one more than the logistic's five parameters."""

STATISTICS: tuple[str, ...] = ("srcc", "krcc", "plcc", "plcc_logistic", "rmse")
"""The statistics :func:`agreement` reports, in table order."""

Statistic = Literal["srcc", "krcc", "plcc", "plcc_logistic", "rmse"]
Seed = int | np.random.Generator
Float = NDArray[np.float64]

_CHUNK = 2_000_000  # bootstrap weights held at once (replicates × items)
_MAX_NFEV = 100  # residual evaluations per least-squares run; a well-posed fit needs 10 to 40
_REPLICATE_TOL = 1e-5  # relative change of SSE / β at which a replicate's refit stops


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LogisticFit:
    """The fitted 5-parameter logistic Q(x) = β1 (1/2 − 1/(1 + e^{β2 (x − β3)})) + β4 x + β5.

    ``kind`` is ``"logistic"`` (unconstrained least squares, as the field fits it),
    ``"monotonic"`` (the unconstrained optimum was not monotonic over the observed scores
    and was refitted with bounds), or ``"linear"`` (every logistic fit failed or was worse
    than a straight line; β1 = 0). ``note`` says why when ``kind`` is not ``"logistic"``.
    """

    beta: tuple[float, float, float, float, float]
    kind: Literal["logistic", "monotonic", "linear"] = "logistic"
    note: str = ""

    def predict(self, scores: ArrayLike) -> Float:
        """Q(scores): the subjective score the fit predicts for each metric score."""
        return logistic5(np.asarray(scores, dtype=float), self.beta)

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form (for JSON): beta as a list, kind, note."""
        return {"beta": list(self.beta), "kind": self.kind, "note": self.note}


@dataclass(frozen=True)
class Agreement:
    """Agreement of one metric with the subjective scores of one (sub)set of items.

    Correlations are signed so that positive means the metric agrees with people (see
    :func:`orientation`); ``rmse`` is in the units of the subjective scores.
    ``intervals`` maps each name of :data:`STATISTICS` to its percentile bootstrap
    interval at ``level`` over ``n_groups`` groups (empty when ``n_boot`` is 0).
    """

    srcc: float
    krcc: float
    plcc: float
    plcc_logistic: float
    rmse: float
    n: int
    n_groups: int
    logistic: LogisticFit
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict, hash=False)
    level: float = 0.95
    n_boot: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form (for JSON and CSV rows); intervals as [low, high] lists."""
        out = asdict(self)
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        out["logistic"] = self.logistic.as_dict()
        return out


@dataclass(frozen=True)
class Difference:
    """``a − b`` of one statistic between two metrics on the same items.

    ``interval`` is the percentile interval of the paired cluster bootstrap at ``level``
    (both metrics on the same resampled groups in each replicate); ``significant`` says
    whether it excludes 0.
    """

    statistic: str
    a: float
    b: float
    difference: float
    interval: tuple[float, float]
    n: int
    n_groups: int
    level: float
    n_boot: int

    @property
    def significant(self) -> bool:
        """True when the interval lies entirely above or entirely below 0."""
        low, high = self.interval
        return bool(low > 0 or high < 0)

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form, with ``significant``."""
        out = asdict(self)
        out["interval"] = list(self.interval)
        out["significant"] = self.significant
        return out


@dataclass(frozen=True)
class Score:
    """A single score (BAPPS 2AFC or JND mAP) with its percentile bootstrap interval.

    ``interval`` is None when ``n_boot`` is 0.
    """

    name: str
    value: float
    n: int
    n_groups: int
    interval: tuple[float, float] | None
    level: float
    n_boot: int

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form."""
        out = asdict(self)
        out["interval"] = None if self.interval is None else list(self.interval)
        return out


# ----------------------------------------------------------------------------- input checks


def _vector(values: ArrayLike, name: str) -> Float:
    """`values` as a finite 1-D float array, or an InputError naming `name`."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a 1-D sequence of numbers; convert it before computing agreement.") from None
    if array.ndim != 1:
        raise InputError(f"{name} must be 1-D (one number per item), got shape {array.shape}; flatten it first.")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise InputError(
            f"{name} has {bad.size} NaN or infinite value(s) (first at item {bad[0]}); "
            "drop those items or rescore them before computing agreement."
        )
    return array


def _same_length(named: dict[str, Float]) -> int:
    lengths = {name: len(v) for name, v in named.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(f"Inputs must have one value per item but {described}; pass aligned arrays.")
    return next(iter(lengths.values()))


def _at_least(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise InputError(f"{what} needs at least {minimum} items, got {n}; use a larger set of items.")


def _not_constant(values: Float, name: str) -> None:
    if np.ptp(values) == 0:
        raise InputError(
            f"{name} are the same ({values[0]:g}) for every item, so no correlation is defined; "
            "check that the metric ran on the right images."
        )


def _scores_and_subjective(scores: ArrayLike, subjective: ArrayLike, minimum: int) -> tuple[Float, Float]:
    x, y = _vector(scores, "scores"), _vector(subjective, "subjective scores")
    n = _same_length({"scores": x, "subjective scores": y})
    _at_least(n, minimum, "Agreement with subjective scores")
    _not_constant(x, "The metric's scores")
    _not_constant(y, "The subjective scores")
    return x, y


def _group_codes(groups: Iterable[Hashable] | None, n: int, name: str = "groups") -> tuple[NDArray[np.intp], int]:
    """Integer codes 0..G−1 in order of first appearance; each item its own group if None."""
    if groups is None:
        return np.arange(n), n
    index: dict[Hashable, int] = {}
    try:
        codes = np.fromiter((index.setdefault(g, len(index)) for g in groups), dtype=np.intp)
    except TypeError:
        raise InputError(
            f"{name} must be a sequence of hashable labels (reference names or ids), one per item."
        ) from None
    if len(codes) != n:
        raise InputError(f"{name} must have one label per item: got {len(codes)} labels for {n} items.")
    return codes, len(index)


def _bootstrap_settings(n_boot: int, level: float, n_groups: int) -> None:
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise InputError(f"n_boot must be a whole number ≥ 0 (0 = no intervals), got {n_boot!r}.")
    if not 0 < level < 1:
        raise InputError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level!r}.")
    if n_boot and n_groups < 2:
        raise InputError(
            f"A bootstrap interval needs at least 2 groups (reference images), got {n_groups}; "
            "pass n_boot=0 or more references."
        )


# ----------------------------------------------------------------------------- correlations


def orientation(higher_is_better: bool, subjective_higher_is_better: bool = True) -> int:
    """+1 when the metric and the subjective scores point the same way, else −1.

    Multiply a raw correlation by this to get one whose sign says agreement: a distortion
    (lower is better) against MOS (higher is better) gives −1; against DMOS, +1.
    """
    return 1 if bool(higher_is_better) == bool(subjective_higher_is_better) else -1


def srcc(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank-order correlation (mid-ranks for ties); raw sign, no orientation."""
    a, b = _scores_and_subjective(x, y, 3)
    return float(stats.spearmanr(a, b).statistic)


def krcc(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall's τ-b (tie-corrected); raw sign, no orientation."""
    a, b = _scores_and_subjective(x, y, 3)
    return float(stats.kendalltau(a, b).statistic)


def plcc(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson's linear correlation, without any fit; raw sign, no orientation."""
    a, b = _scores_and_subjective(x, y, 3)
    return float(stats.pearsonr(a, b).statistic)


# ----------------------------------------------------------------------------- logistic fit


def logistic5(x: ArrayLike, beta: Sequence[float]) -> Float:
    """Q(x) = β1 (1/2 − 1/(1 + exp(β2 (x − β3)))) + β4 x + β5 (Sheikh et al. 2006, eq. 1).

    Evaluated as β1 (expit(β2 (x − β3)) − 1/2) + β4 x + β5, which is the same function and
    does not overflow.
    """
    b1, b2, b3, b4, b5 = (float(b) for b in beta)
    x = np.asarray(x, dtype=float)
    return b1 * (special.expit(b2 * (x - b3)) - 0.5) + b4 * x + b5


@dataclass(frozen=True)
class _Standardized:
    """Scores and subjective scores in standardized coordinates z and u (for the fit)."""

    z: Float
    u: Float
    mx: float
    sx: float
    my: float
    sy: float

    @classmethod
    def of(cls, x: Float, y: Float) -> _Standardized:
        mx, sx, my, sy = float(x.mean()), float(x.std()), float(y.mean()), float(y.std())
        return cls((x - mx) / sx, (y - my) / sy, mx, sx, my, sy)

    def to_original(self, b: Float) -> tuple[float, float, float, float, float]:
        """β in the original units of the fit b in standardized units (exact)."""
        b1, b2, b3, b4, b5 = (float(v) for v in b)
        return (
            self.sy * b1,
            b2 / self.sx,
            self.mx + self.sx * b3,
            self.sy * b4 / self.sx,
            self.my + self.sy * (b5 - b4 * self.mx / self.sx),
        )


def _residuals(b: Float, z: Float, u: Float, root_w: Float) -> Float:
    return (b[0] * (special.expit(b[1] * (z - b[2])) - 0.5) + b[3] * z + b[4] - u) * root_w


def _jacobian(b: Float, z: Float, u: Float, root_w: Float) -> Float:
    e = special.expit(b[1] * (z - b[2]))
    g = b[0] * e * (1.0 - e)
    columns = (e - 0.5, g * (z - b[2]), -g * b[1], z, np.ones_like(z))
    return np.column_stack(columns) * root_w[:, None]


def _line(z: Float, u: Float, w: Float) -> Float:
    """The weighted least-squares line u ≈ a z + c, as b = (0, 1, 0, a, c)."""
    sw = w.sum()
    mz, mu = (w @ z) / sw, (w @ u) / sw
    vz = w @ (z - mz) ** 2
    a = (w @ ((z - mz) * (u - mu))) / vz if vz > 0 else 0.0
    return np.array([0.0, 1.0, 0.0, a, mu - a * mz])


def _is_monotonic(b: Float, low: float, high: float) -> bool:
    """Whether Q has one sign of slope on [low, high] (checked on a fine grid)."""
    t = np.linspace(low, high, 513)
    e = special.expit(b[1] * (t - b[2]))
    slope = b[0] * b[1] * e * (1.0 - e) + b[3]
    tol = 1e-9 * (abs(b[0] * b[1]) + abs(b[3]) + 1e-300)
    return bool(np.all(slope >= -tol) or np.all(slope <= tol))


def _fit_standardized(
    z: Float, u: Float, w: Float, starts: Sequence[Float], tol: float = 1e-8
) -> tuple[Float, str, str]:
    """Least-squares fit of Q in standardized units: (b, kind, note), never raising.

    `tol` is least_squares' ftol and xtol: bootstrap replicates, which need the fitted
    values and not β, stop at a looser one.
    """
    keep = w > 0
    z, u, w = z[keep], u[keep], w[keep]
    root_w = np.sqrt(w)
    line = _line(z, u, w)

    def sse(b: Float) -> float:
        return float(np.sum(_residuals(b, z, u, root_w) ** 2))

    def solve(start: Float, bounds: tuple[Any, Any] | None) -> Float | None:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if bounds is None:
                    res = optimize.least_squares(
                        _residuals,
                        start,
                        jac=_jacobian,
                        method="lm",
                        max_nfev=_MAX_NFEV,
                        ftol=tol,
                        xtol=tol,
                        args=(z, u, root_w),
                    )
                else:
                    res = optimize.least_squares(
                        _residuals,
                        start,
                        jac=_jacobian,
                        method="trf",
                        bounds=bounds,
                        max_nfev=_MAX_NFEV,
                        ftol=tol,
                        xtol=tol,
                        args=(z, u, root_w),
                    )
        except (ValueError, np.linalg.LinAlgError):
            return None
        # status 0 (evaluation budget spent) still yields a valid curve; the comparison
        # with the straight line below decides whether it is used
        return res.x if res.status >= 0 and np.all(np.isfinite(res.x)) and np.isfinite(sse(res.x)) else None

    if np.unique(z).size < 5:  # five parameters need five distinct abscissae
        return line, "linear", f"only {np.unique(z).size} distinct scores; fitted a straight line instead."
    fits = [b for b in (solve(s, None) for s in starts) if b is not None]
    best = min(fits, key=sse) if fits else None
    kind, note = "logistic", ""
    low, high = float(z.min()), float(z.max())
    if best is not None and not _is_monotonic(best, low, high):
        sign = 1.0 if line[3] >= 0 else -1.0
        lower = np.array([0.0 if sign > 0 else -np.inf, 0.0, -np.inf, 0.0 if sign > 0 else -np.inf, -np.inf])
        upper = np.array([np.inf if sign > 0 else 0.0, np.inf, np.inf, np.inf if sign > 0 else 0.0, np.inf])
        start = np.array([sign * max(abs(best[0]), 1e-3), max(abs(best[1]), 1e-3), best[2], sign * 1e-3, best[4]])
        bounded = solve(start, (lower, upper))
        best = bounded if bounded is not None and _is_monotonic(bounded, low, high) else None
        kind, note = "monotonic", "the unconstrained fit was not monotonic; refitted with monotonic bounds."
        if best is None:
            return line, "linear", "the unconstrained fit was not monotonic and the bounded refit failed; used a line."
    if best is None or sse(best) > sse(line) * (1 + 1e-9) + 1e-12:
        return line, "linear", "no logistic fit converged below the straight line; used the line."
    return best, kind, note


def _starts(std: _Standardized) -> list[Float]:
    """The three starting points of the fit (see the module docstring)."""
    line = _line(std.z, std.u, np.ones_like(std.z))
    sign = 1.0 if line[3] >= 0 else -1.0
    span = float(np.ptp(std.u))
    return [
        np.array([sign * span, 2.0, 0.0, 0.0, 0.0]),
        np.array([sign * span / 2, 1.0, 0.0, line[3] / 2, 0.0]),
        np.array([sign * 0.1, 1.0, 0.0, line[3], line[4]]),
    ]


def fit_logistic(scores: ArrayLike, subjective: ArrayLike) -> LogisticFit:
    """Fit the monotonic 5-parameter logistic of VQEG from metric scores to subjective scores.

    Least squares as in Sheikh et al. 2006; the starts, the monotonic refit and the
    straight-line fallback are described in the module docstring. Never raises on a
    failed fit (see :attr:`LogisticFit.kind`); raises InputError on bad input.
    """
    x, y = _scores_and_subjective(scores, subjective, MIN_ITEMS)
    std = _Standardized.of(x, y)
    b, kind, note = _fit_standardized(std.z, std.u, np.ones_like(x), _starts(std))
    return LogisticFit(std.to_original(b), kind, note)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- agreement


def _trend(b: Float, low: float, high: float) -> float:
    """+1 if the fitted curve rises over [low, high], −1 if it falls, 0 if flat."""
    return float(np.sign(logistic5(high, b) - logistic5(low, b)))


def _fitted_statistics(std: _Standardized, b: Float, w: Float) -> tuple[float, float]:
    """(unsigned-by-orientation PLCC after the fit, RMSE in original units), weighted."""
    q = logistic5(std.z, b)
    sw = w.sum()
    rmse = math.sqrt(float(w @ (q - std.u) ** 2) / sw) * std.sy
    r = _weighted_pearson(w[None, :], q, std.u)[0]
    trend = _trend(b, float(std.z[w > 0].min()), float(std.z[w > 0].max()))
    return (float(trend * r) if np.isfinite(r) else 0.0), rmse


def _weighted_pearson(w: Float, x: Float, y: Float) -> Float:
    """Pearson's r per row of weights `w` (B × n); x, y are (n,) or (B × n).

    With integer weights this is exactly Pearson's r of the sample in which item i
    appears w_i times. NaN where a row has no spread.
    """
    sw = w.sum(axis=1)
    mx = (w * x).sum(axis=1) / sw
    my = (w * y).sum(axis=1) / sw
    dx, dy = x - mx[:, None], y - my[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * dx * dy).sum(axis=1) / np.sqrt((w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1))


class _Ranker:
    """Mid-ranks of one vector in weighted (replicated) samples, for Spearman's rho."""

    def __init__(self, values: Float) -> None:
        self.order = np.argsort(values, kind="stable")
        ordered = values[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        block = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
        self.block = np.empty_like(block)
        self.block[self.order] = block

    def ranks(self, w: Float) -> Float:
        """Mid-rank of each item in the sample where item i appears w_i times (per row)."""
        per_block = np.add.reduceat(w[:, self.order], self.starts, axis=1)
        before = np.cumsum(per_block, axis=1) - per_block
        return (before + (per_block + 1.0) / 2.0)[:, self.block]


def _kendall_rows(w: Float, x: Float, y: Float) -> Float:
    out = np.full(len(w), np.nan)
    items = np.arange(len(x))
    for i, row in enumerate(w):
        take = np.repeat(items, row.astype(np.intp))
        a, b = x[take], y[take]
        if np.ptp(a) > 0 and np.ptp(b) > 0:
            out[i] = stats.kendalltau(a, b).statistic
    return out


class _Replicates:
    """Per-replicate values of the statistics of :func:`agreement` for one metric."""

    def __init__(self, x: Float, y: Float, sign: int, std: _Standardized, b: Float) -> None:
        self.x, self.y, self.sign, self.std, self.b = x, y, sign, std, b
        self.rank_x, self.rank_y = _Ranker(x), _Ranker(y)

    def compute(self, w: Float, which: Iterable[str]) -> dict[str, Float]:
        out: dict[str, Float] = {}
        which = set(which)
        if "plcc" in which:
            out["plcc"] = self.sign * _weighted_pearson(w, self.std.z, self.std.u)
        if "srcc" in which:
            out["srcc"] = self.sign * _weighted_pearson(w, self.rank_x.ranks(w), self.rank_y.ranks(w))
        if "krcc" in which:
            out["krcc"] = self.sign * _kendall_rows(w, self.x, self.y)
        if which & {"plcc_logistic", "rmse"}:
            fitted = np.array([self._fit_row(row) for row in w])
            out["plcc_logistic"], out["rmse"] = self.sign * fitted[:, 0], fitted[:, 1]
        return out

    def _fit_row(self, row: Float) -> tuple[float, float]:
        b, _, _ = _fit_standardized(self.std.z, self.std.u, row, [self.b], tol=_REPLICATE_TOL)
        return _fitted_statistics(self.std, b, row)


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _weight_chunks(codes: NDArray[np.intp], n_groups: int, n_boot: int, rng: np.random.Generator) -> Iterable[Float]:
    """Cluster-bootstrap replicates as item weights (how often each item is drawn), in chunks.

    Each replicate draws ``n_groups`` groups with replacement (multinomial counts); an item
    gets its group's count. Chunks keep replicates × items under ``_CHUNK``.
    """
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot)
    step = max(1, _CHUNK // max(1, len(codes)))
    for start in range(0, n_boot, step):
        yield counts[start : start + step][:, codes].astype(float)


def _percentile_interval(values: Float, level: float) -> tuple[float, float]:
    """Percentile interval of the finite replicates; (nan, nan) if fewer than half are finite."""
    finite = values[np.isfinite(values)]
    if finite.size < max(2, values.size / 2):
        return (math.nan, math.nan)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _point(x: Float, y: Float, sign: int) -> tuple[dict[str, float], LogisticFit, _Standardized, Float]:
    std = _Standardized.of(x, y)
    b, kind, note = _fit_standardized(std.z, std.u, np.ones_like(x), _starts(std))
    plcc_fit, rmse = _fitted_statistics(std, b, np.ones_like(x))
    values = {
        "srcc": sign * float(stats.spearmanr(x, y).statistic),
        "krcc": sign * float(stats.kendalltau(x, y).statistic),
        "plcc": sign * float(stats.pearsonr(x, y).statistic),
        "plcc_logistic": sign * plcc_fit,
        "rmse": rmse,
    }
    return values, LogisticFit(std.to_original(b), kind, note), std, b  # type: ignore[arg-type]


def agreement(
    scores: ArrayLike,
    subjective: ArrayLike,
    *,
    higher_is_better: bool,
    subjective_higher_is_better: bool = True,
    groups: Iterable[Hashable] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: Seed = 0,
    intervals_for: Iterable[str] = STATISTICS,
) -> Agreement:
    """SRCC, KRCC, PLCC, PLCC and RMSE after the VQEG logistic, with cluster-bootstrap intervals.

    `scores` are the metric's, one per item; `subjective` the dataset's MOS
    (``subjective_higher_is_better=True``) or DMOS (False); `higher_is_better` is the
    metric's declared direction (False for rdpkit's distortions and critics). `groups`
    names each item's reference image (None: each item its own group, for no-reference
    sets). `n_boot` replicates (0: no intervals) give percentile intervals at `level`
    for the statistics named in `intervals_for` (the logistic ones refit the curve in
    every replicate and cost the most); `seed` makes them reproducible. See the module
    docstring for every definition.
    """
    x, y = _scores_and_subjective(scores, subjective, MIN_ITEMS)
    codes, n_groups = _group_codes(groups, len(x))
    _bootstrap_settings(n_boot, level, n_groups)
    requested = set(intervals_for)
    wanted = [k for k in STATISTICS if k in requested]
    unknown = requested - set(STATISTICS)
    if unknown:
        raise InputError(
            f"intervals_for names unknown statistics {sorted(unknown)}; choose from {', '.join(STATISTICS)}."
        )
    sign = orientation(higher_is_better, subjective_higher_is_better)
    values, fit, std, b = _point(x, y, sign)
    intervals: dict[str, tuple[float, float]] = {}
    if n_boot:
        replicates = _Replicates(x, y, sign, std, b)
        parts = [replicates.compute(w, wanted) for w in _weight_chunks(codes, n_groups, n_boot, _rng(seed))]
        intervals = {k: _percentile_interval(np.concatenate([p[k] for p in parts]), level) for k in wanted}
    return Agreement(
        **values, n=len(x), n_groups=n_groups, logistic=fit, intervals=intervals, level=level, n_boot=n_boot
    )


def agreement_by_type(
    scores: ArrayLike,
    subjective: ArrayLike,
    types: Iterable[Hashable],
    *,
    higher_is_better: bool,
    subjective_higher_is_better: bool = True,
    groups: Iterable[Hashable] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: Seed = 0,
    intervals_for: Iterable[str] = STATISTICS,
) -> dict[str, Agreement]:
    """:func:`agreement` on the items of each distortion type, keyed by ``str(type)``.

    Types appear in order of first appearance; within a type the bootstrap resamples that
    type's reference groups. A type with fewer than :data:`MIN_ITEMS` items is an error
    that names it.
    """
    x, y = _vector(scores, "scores"), _vector(subjective, "subjective scores")
    labels = list(types)
    n = _same_length({"scores": x, "subjective scores": y, "types": np.asarray(labels, dtype=object)})
    codes, n_types = _group_codes(labels, n, "types")
    group_labels = None if groups is None else list(groups)
    if group_labels is not None and len(group_labels) != n:
        raise InputError(f"groups must have one label per item: got {len(group_labels)} labels for {n} items.")
    names = {code: str(label) for label, code in zip(labels, codes, strict=True)}
    rng = _rng(seed)
    out: dict[str, Agreement] = {}
    for code in range(n_types):
        members = np.flatnonzero(codes == code)
        if members.size < MIN_ITEMS:
            raise InputError(
                f"Distortion type {names[code]!r} has {members.size} items, fewer than {MIN_ITEMS}; "
                "leave it out of the per-type table or score more of its images."
            )
        sub_groups = None if group_labels is None else [group_labels[i] for i in members]
        out[names[code]] = agreement(
            x[members],
            y[members],
            higher_is_better=higher_is_better,
            subjective_higher_is_better=subjective_higher_is_better,
            groups=sub_groups,
            n_boot=n_boot,
            level=level,
            seed=rng,
            intervals_for=intervals_for,
        )
    return out


def paired_difference(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    subjective: ArrayLike,
    *,
    higher_is_better_a: bool,
    higher_is_better_b: bool,
    subjective_higher_is_better: bool = True,
    statistic: Statistic = "srcc",
    groups: Iterable[Hashable] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: Seed = 0,
) -> Difference:
    """Metric a minus metric b on one statistic, with a paired cluster-bootstrap interval.

    Both metrics scored the same items (aligned with `subjective` and `groups`). Each
    replicate resamples the same groups for both, so the interval of the difference
    reflects that they are measured on the same images. For the correlations a positive
    difference means a agrees better; for ``"rmse"`` a negative one does.
    """
    if statistic not in STATISTICS:
        raise InputError(f"statistic must be one of {', '.join(STATISTICS)}; got {statistic!r}.")
    xa, y = _scores_and_subjective(scores_a, subjective, MIN_ITEMS)
    xb, _ = _scores_and_subjective(scores_b, subjective, MIN_ITEMS)
    codes, n_groups = _group_codes(groups, len(y))
    _bootstrap_settings(n_boot, level, n_groups)
    if n_boot == 0:
        raise InputError("A paired difference needs its bootstrap interval: pass n_boot ≥ 1 (e.g. 1000).")
    sides = []
    for x, direction in ((xa, higher_is_better_a), (xb, higher_is_better_b)):
        sign = orientation(direction, subjective_higher_is_better)
        values, _, std, b = _point(x, y, sign)
        sides.append((values[statistic], _Replicates(x, y, sign, std, b)))
    (a, rep_a), (b_value, rep_b) = sides
    diffs = [
        rep_a.compute(w, [statistic])[statistic] - rep_b.compute(w, [statistic])[statistic]
        for w in _weight_chunks(codes, n_groups, n_boot, _rng(seed))
    ]
    interval = _percentile_interval(np.concatenate(diffs), level)
    return Difference(statistic, a, b_value, a - b_value, interval, len(y), n_groups, level, n_boot)


# ----------------------------------------------------------------------------- BAPPS


def _bapps_score(
    name: str,
    value: float,
    rows: Callable[[Float], Float],
    n: int,
    groups: Iterable[Hashable] | None,
    n_boot: int,
    level: float,
    seed: Seed,
) -> Score:
    """`value` with the percentile interval of `rows` (the score per replicate's weights)."""
    codes, n_groups = _group_codes(groups, n)
    _bootstrap_settings(n_boot, level, n_groups)
    interval = None
    if n_boot:
        reps = np.concatenate([rows(w) for w in _weight_chunks(codes, n_groups, n_boot, _rng(seed))])
        interval = _percentile_interval(reps, level)
    return Score(name, value, n, n_groups, interval, level, n_boot)


def _share(values: Float, name: str) -> None:
    outside = np.flatnonzero((values < 0) | (values > 1))
    if outside.size:
        raise InputError(
            f"{name} must be shares of judges in [0, 1]; item {outside[0]} has {values[outside[0]]:g}. "
            "Pass the fraction, not a count or percentage."
        )


def two_afc(
    d0: ArrayLike,
    d1: ArrayLike,
    judge: ArrayLike,
    *,
    higher_is_better: bool = False,
    groups: Iterable[Hashable] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: Seed = 0,
) -> Score:
    """BAPPS 2AFC score (Zhang et al. 2018): mean share of judges agreeing with the metric.

    `d0`, `d1`: the metric between the reference and p0, p1; `judge`: the share of judges
    who chose p1 as closer. A triplet scores h if the metric finds p1 closer, 1 − h if p0,
    1/2 on a tie. `higher_is_better=True` for a similarity (closer = higher).
    """
    a, b, h = _vector(d0, "d0"), _vector(d1, "d1"), _vector(judge, "judge")
    n = _same_length({"d0": a, "d1": b, "judge": h})
    _at_least(n, 1, "The 2AFC score")
    _share(h, "judge")
    if higher_is_better:
        a, b = -a, -b
    per_triplet = np.where(b < a, h, np.where(a < b, 1.0 - h, 0.5))
    value = float(per_triplet.mean())
    return _bapps_score("2afc", value, lambda w: (w @ per_triplet) / w.sum(axis=1), n, groups, n_boot, level, seed)


def _average_precision(same_sorted: Float) -> float:
    """VOC (2010+) average precision of items already sorted by distance, ascending."""
    tp = np.cumsum(same_sorted)
    fp = np.cumsum(1.0 - same_sorted)
    if tp[-1] <= 0:
        return math.nan
    recall = np.r_[0.0, tp / tp[-1], 1.0]
    precision = np.r_[0.0, tp / (tp + fp), 0.0]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    change = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[change + 1] - recall[change]) * envelope[change + 1]))


def jnd_map(
    distances: ArrayLike,
    same: ArrayLike,
    *,
    higher_is_better: bool = False,
    groups: Iterable[Hashable] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: Seed = 0,
) -> Score:
    """BAPPS JND mAP (Zhang et al. 2018): VOC average precision of "same" by ascending distance.

    `distances`: the metric between the two images of each pair; `same`: the share of
    judges who saw no difference. `higher_is_better=True` for a similarity (pairs are then
    ranked by descending score).
    """
    d, s = _vector(distances, "distances"), _vector(same, "same")
    n = _same_length({"distances": d, "same": s})
    _at_least(n, 2, "JND mAP")
    _share(s, "same")
    if s.sum() <= 0:
        raise InputError("No pair was judged the same by anyone, so precision-recall is undefined; check the labels.")
    order = np.argsort(-d if higher_is_better else d, kind="stable")
    same_sorted = s[order]

    def rows(w: Float) -> Float:
        counts = w[:, order].astype(np.intp)
        return np.array([_average_precision(np.repeat(same_sorted, c)) for c in counts])

    return _bapps_score("jnd-map", _average_precision(same_sorted), rows, n, groups, n_boot, level, seed)
