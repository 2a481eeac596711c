"""rdpkit.judge.statistics against independent references, with the tolerances stated.

- Correlations: against plain formulas written here (numpy's corrcoef, mid-ranks, an
  O(n²) τ-b), to 1e-12.
- Logistic fit: against scipy.optimize.least_squares written here from the formula, on
  data drawn from a known β; the fitted curves agree to 1e-6 of the MOS range and β is
  recovered to 5 % (noise σ = 2 % of the range, 400 points).
- 2AFC and JND mAP: hand-computed cases, exact to 1e-12.
- Bootstrap: replicates reproduced by a plain resampling loop (1e-10); coverage of known
  population values in a 200-repetition simulation inside [0.88, 0.99] for a 95 % interval.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from rdpkit.errors import InputError
from rdpkit.judge.statistics import (
    STATISTICS,
    Agreement,
    agreement,
    agreement_by_type,
    fit_logistic,
    jnd_map,
    krcc,
    logistic5,
    orientation,
    paired_difference,
    plcc,
    srcc,
    two_afc,
)


def _midranks(v: np.ndarray) -> np.ndarray:
    """Mid-ranks by definition: 1 + (number smaller) + (number equal − 1)/2."""
    return np.array([1 + np.sum(v < a) + (np.sum(v == a) - 1) / 2 for a in v])


def _tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ-b by counting pairs (Kendall 1945)."""
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if sx == 0 and sy == 0:
            continue
        if sx == 0:
            ties_x += 1
        elif sy == 0:
            ties_y += 1
        elif sx == sy:
            concordant += 1
        else:
            discordant += 1
    return (concordant - discordant) / math.sqrt(
        (concordant + discordant + ties_x) * (concordant + discordant + ties_y)
    )


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


# ----------------------------------------------------------------------------- correlations


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlations_match_their_definitions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=60)
    y = 0.6 * x + rng.normal(size=60)
    x[:6] = np.round(x[:6])  # a few ties
    y[10:14] = 1.0
    assert plcc(x, y) == pytest.approx(_pearson(x, y), abs=1e-12)
    assert srcc(x, y) == pytest.approx(_pearson(_midranks(x), _midranks(y)), abs=1e-12)
    assert krcc(x, y) == pytest.approx(_tau_b(x, y), abs=1e-12)


def test_orientation_table() -> None:
    assert orientation(False, True) == -1  # distortion vs MOS
    assert orientation(False, False) == 1  # distortion vs DMOS
    assert orientation(True, True) == 1  # similarity vs MOS
    assert orientation(True, False) == -1  # similarity vs DMOS


def test_a_distortion_that_falls_as_mos_rises_agrees_perfectly() -> None:
    mos = np.linspace(1.0, 9.0, 40)
    distortion = np.exp(-mos / 3.0)  # lower is better, strictly decreasing in MOS
    result = agreement(distortion, mos, higher_is_better=False, n_boot=0)
    assert result.srcc == pytest.approx(1.0, abs=1e-12)
    assert result.krcc == pytest.approx(1.0, abs=1e-12)
    assert result.plcc > 0.9 and result.plcc_logistic > result.plcc
    dmos = 10.0 - mos  # lower is better, like the distortion: rises with it
    against_dmos = agreement(distortion, dmos, higher_is_better=False, subjective_higher_is_better=False, n_boot=0)
    assert against_dmos.srcc == pytest.approx(1.0, abs=1e-12)
    assert against_dmos.plcc_logistic == pytest.approx(result.plcc_logistic, abs=1e-9)
    wrong_way = agreement(-distortion, mos, higher_is_better=False, n_boot=0)
    assert wrong_way.srcc == pytest.approx(-1.0, abs=1e-12) and wrong_way.plcc_logistic < 0


# ----------------------------------------------------------------------------- logistic


TRUE_BETA = (6.0, 1.5, 3.0, 0.2, 5.0)


def _reference_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Direct least squares on the published formula, started near the answer."""

    def residuals(b: np.ndarray) -> np.ndarray:
        return b[0] * (0.5 - 1.0 / (1.0 + np.exp(b[1] * (x - b[2])))) + b[3] * x + b[4] - y

    start = np.array([np.ptp(y), 1.0, np.mean(x), 0.0, np.mean(y)])
    return optimize.least_squares(residuals, start, xtol=1e-15, ftol=1e-15, gtol=1e-15).x


def test_logistic_fit_matches_direct_least_squares_and_recovers_beta() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 6.0, 400)
    clean = logistic5(x, TRUE_BETA)
    y = clean + rng.normal(0.0, 0.02 * np.ptp(clean), x.size)
    fit = fit_logistic(x, y)
    assert fit.kind == "logistic" and fit.note == ""
    reference = _reference_fit(x, y)
    grid = np.linspace(0.0, 6.0, 200)
    assert np.max(np.abs(fit.predict(grid) - logistic5(grid, reference))) < 1e-6 * np.ptp(y)
    np.testing.assert_allclose(fit.beta, TRUE_BETA, rtol=0.05, atol=0.05)


def test_logistic_fit_is_scale_free() -> None:
    """MSE-sized (1e-4) and PSNR-sized (+30) scores give the same curve in their own units."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 6.0, 300)
    y = logistic5(x, TRUE_BETA) + rng.normal(0.0, 0.2, x.size)
    base = fit_logistic(x, y)
    for scale, shift in [(1e-4, 0.0), (1.0, 30.0), (1e4, -7.0)]:
        moved = fit_logistic(scale * x + shift, y)
        assert np.max(np.abs(moved.predict(scale * x + shift) - base.predict(x))) < 1e-6


def test_plcc_after_the_fit_beats_plcc_without_on_a_nonlinear_relation() -> None:
    rng = np.random.default_rng(11)
    x = rng.uniform(0.0, 6.0, 300)
    y = logistic5(x, (8.0, 3.0, 3.0, 0.0, 5.0)) + rng.normal(0.0, 0.3, x.size)
    result = agreement(x, y, higher_is_better=True, n_boot=0)
    assert result.plcc_logistic >= result.plcc + 0.02
    q = result.logistic.predict(x)
    assert result.rmse == pytest.approx(math.sqrt(np.mean((q - y) ** 2)), rel=1e-12)
    assert result.plcc_logistic == pytest.approx(_pearson(q, y), abs=1e-12)


def test_a_fit_that_cannot_work_falls_back_to_a_line_without_raising() -> None:
    x = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0])  # three distinct scores
    y = np.array([1.0, 2.0, 1.5, 3.0, 3.5, 2.5, 5.0, 4.0])
    fit = fit_logistic(x, y)
    assert fit.kind == "linear" and "distinct" in fit.note
    assert fit.beta[0] == 0.0
    slope, intercept = np.polyfit(x, y, 1)
    np.testing.assert_allclose(fit.predict(x), slope * x + intercept, atol=1e-12)


def test_the_fitted_curve_is_monotonic_over_the_scores() -> None:
    """A rise then a small dip: the unconstrained optimum bends back, the reported one may not."""
    x = np.linspace(0.0, 10.0, 60)
    y = np.where(x < 7.0, x, 7.0 - 0.6 * (x - 7.0))
    fit = fit_logistic(x, y)
    assert np.all(np.diff(fit.predict(np.linspace(0.0, 10.0, 2001))) >= -1e-9)
    assert fit.kind in ("monotonic", "linear") and fit.note


# ----------------------------------------------------------------------------- BAPPS


def test_two_afc_on_hand_made_triplets() -> None:
    d0 = [0.2, 0.5, 0.3]
    d1 = [0.4, 0.1, 0.3]
    judge = [0.25, 0.8, 0.9]  # share preferring p1
    # metric picks p0 (agrees with 75 %), p1 (80 %), tie (50 %)
    expected = (0.75 + 0.8 + 0.5) / 3
    assert two_afc(d0, d1, judge, n_boot=0).value == pytest.approx(expected, abs=1e-12)
    similarity = two_afc([-v for v in d0], [-v for v in d1], judge, higher_is_better=True, n_boot=0)
    assert similarity.value == pytest.approx(expected, abs=1e-12)


def test_jnd_map_on_hand_made_pairs() -> None:
    # sorted by distance: same = 1, 0, 1, 0 → precision 1, 1/2, 2/3, 1/2 at recall 1/2, 1/2, 1, 1
    # VOC AP = 1/2 · 1 + 1/2 · 2/3 = 5/6
    distances = [3.0, 1.0, 4.0, 2.0]
    same = [1.0, 1.0, 0.0, 0.0]
    assert jnd_map(distances, same, n_boot=0).value == pytest.approx(5 / 6, abs=1e-12)
    assert jnd_map([1, 2, 3, 4], [1, 1, 0, 0], n_boot=0).value == pytest.approx(1.0, abs=1e-12)
    # fractional labels: TP = .5, 1; FP = .5, 1 → precision 1/2 at recall 1/2 and 1
    assert jnd_map([1, 2], [0.5, 0.5], n_boot=0).value == pytest.approx(0.5, abs=1e-12)
    assert jnd_map([-3.0, -1.0, -4.0, -2.0], same, higher_is_better=True, n_boot=0).value == pytest.approx(5 / 6)


def test_bapps_intervals_contain_the_score() -> None:
    rng = np.random.default_rng(5)
    d0, d1 = rng.uniform(size=300), rng.uniform(size=300)
    judge = np.clip(0.5 + (d0 - d1) + rng.normal(0, 0.2, 300), 0, 1)
    score = two_afc(d0, d1, judge, n_boot=300)
    assert score.interval[0] <= score.value <= score.interval[1] and score.value > 0.6
    same = np.clip(1.0 - d0 + rng.normal(0, 0.2, 300), 0, 1)
    ap = jnd_map(d0, same, n_boot=200)
    assert ap.interval[0] <= ap.value <= ap.interval[1]
    json.dumps(score.as_dict())


# ----------------------------------------------------------------------------- bootstrap


def _grouped(rng: np.random.Generator, n_groups: int, per_group: int, rho_group: float, rho_item: float):
    """x, y jointly normal: a shared group effect (variance 1) plus an item effect (variance 1).

    Population Pearson ρ = (ρ_group + ρ_item)/2; population Spearman (6/π) asin(ρ/2).
    """
    cov_g = [[1.0, rho_group], [rho_group, 1.0]]
    cov_i = [[1.0, rho_item], [rho_item, 1.0]]
    group = rng.multivariate_normal([0, 0], cov_g, size=n_groups)
    item = rng.multivariate_normal([0, 0], cov_i, size=n_groups * per_group)
    refs = np.repeat(np.arange(n_groups), per_group)
    xy = group[refs] + item
    return xy[:, 0], xy[:, 1], refs


def test_replicates_are_those_of_a_plain_resampling_of_reference_groups() -> None:
    """The percentile interval equals the one of an explicit loop over resampled groups."""
    rng = np.random.default_rng(2)
    x, y, refs = _grouped(rng, 12, 5, 0.8, 0.3)
    x = np.round(x, 1)  # ties, which resampling multiplies
    n_boot, level = 200, 0.9
    result = agreement(
        x,
        y,
        higher_is_better=True,
        groups=refs,
        n_boot=n_boot,
        level=level,
        seed=4,
        intervals_for=("srcc", "krcc", "plcc"),
    )
    draw = np.random.default_rng(4).multinomial(12, np.full(12, 1 / 12), size=n_boot)
    replicates = {"srcc": [], "krcc": [], "plcc": []}
    for counts in draw:
        take = np.concatenate([np.flatnonzero(refs == g) for g in range(12) for _ in range(counts[g])])
        replicates["srcc"].append(stats.spearmanr(x[take], y[take]).statistic)
        replicates["krcc"].append(stats.kendalltau(x[take], y[take]).statistic)
        replicates["plcc"].append(_pearson(x[take], y[take]))
    for name, values in replicates.items():
        expected = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        np.testing.assert_allclose(result.intervals[name], expected, atol=1e-10)


def test_intervals_contain_the_estimate() -> None:
    rng = np.random.default_rng(8)
    x, y, refs = _grouped(rng, 25, 6, 0.7, 0.5)
    result = agreement(x, y, higher_is_better=True, groups=refs, n_boot=300)
    assert set(result.intervals) == set(STATISTICS) and result.n_groups == 25
    for name in STATISTICS:
        low, high = result.intervals[name]
        assert low <= getattr(result, name) <= high, name
    json.dumps(result.as_dict())


def test_cluster_bootstrap_covers_population_values_at_the_nominal_rate() -> None:
    """200 data sets of 30 references × 4 distortions; 95 % intervals over references."""
    rng = np.random.default_rng(2024)
    rho = (0.8 + 0.2) / 2
    truth = {"plcc": rho, "srcc": 6 / math.pi * math.asin(rho / 2)}
    covered = {"plcc": 0, "srcc": 0}
    repetitions = 200
    for _ in range(repetitions):
        x, y, refs = _grouped(rng, 30, 4, 0.8, 0.2)
        result = agreement(
            x, y, higher_is_better=True, groups=refs, n_boot=300, seed=rng, intervals_for=("plcc", "srcc")
        )
        for name, value in truth.items():
            low, high = result.intervals[name]
            covered[name] += low <= value <= high
    for name, count in covered.items():
        assert 0.88 <= count / repetitions <= 0.99, (name, count)


def test_paired_difference_tells_a_better_metric_from_an_equal_one() -> None:
    rng = np.random.default_rng(13)
    refs = np.repeat(np.arange(20), 8)
    mos = rng.uniform(1, 9, refs.size)
    good = -mos + rng.normal(0, 0.5, refs.size)  # distortions: lower is better
    poor = -mos + rng.normal(0, 3.0, refs.size)
    also_poor = -mos + rng.normal(0, 3.0, refs.size)
    kw = {"higher_is_better_a": False, "higher_is_better_b": False, "groups": refs, "n_boot": 400}
    better = paired_difference(good, poor, mos, **kw)
    assert better.significant and better.interval[0] > 0 and better.difference > 0
    assert better.difference == pytest.approx(better.a - better.b)
    equal = paired_difference(poor, also_poor, mos, **kw)
    assert not equal.significant and equal.interval[0] < 0 < equal.interval[1]
    fitted = paired_difference(good, poor, mos, statistic="plcc_logistic", **{**kw, "n_boot": 60})
    assert fitted.significant
    json.dumps(equal.as_dict())


def test_per_type_agreement_is_agreement_on_each_type() -> None:
    rng = np.random.default_rng(1)
    types = np.array(["blur", "noise", "jpeg"] * 20)
    refs = np.repeat(np.arange(10), 6)
    mos = rng.uniform(1, 9, 60)
    scores = -mos + rng.normal(0, 1, 60)
    table = agreement_by_type(scores, mos, types, higher_is_better=False, groups=refs, n_boot=0)
    assert list(table) == ["blur", "noise", "jpeg"]
    for name, result in table.items():
        alone = agreement(scores[types == name], mos[types == name], higher_is_better=False, n_boot=0)
        assert isinstance(result, Agreement) and result.n == 20 and result.n_groups == 10
        assert result.srcc == pytest.approx(alone.srcc, abs=1e-12)
        assert result.plcc_logistic == pytest.approx(alone.plcc_logistic, abs=1e-9)


# ----------------------------------------------------------------------------- properties

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
columns = st.lists(st.tuples(finite, finite), min_size=6, max_size=40).filter(
    lambda rows: len({r[0] for r in rows}) > 1 and len({r[1] for r in rows}) > 1
)


@settings(max_examples=25, deadline=None)
@given(columns, st.sampled_from(["exp", "cube", "arctan"]))
def test_rank_correlations_are_invariant_under_monotone_transforms(rows, transform) -> None:
    x, y = (np.array(c) for c in zip(*rows, strict=True))
    moved = {"exp": np.exp(x / 1e3), "cube": x**3, "arctan": np.arctan(x)}[transform]
    if np.unique(moved).size != np.unique(x).size:  # floating point merged two values
        return
    before = agreement(x, y, higher_is_better=True, n_boot=0)
    after = agreement(moved, y, higher_is_better=True, n_boot=0)
    assert after.srcc == pytest.approx(before.srcc, abs=1e-12)
    assert after.krcc == pytest.approx(before.krcc, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(columns, st.booleans())
def test_declared_direction_flips_the_sign(rows, mos) -> None:
    x, y = (np.array(c) for c in zip(*rows, strict=True))
    up = agreement(x, y, higher_is_better=True, subjective_higher_is_better=mos, n_boot=0)
    down = agreement(x, y, higher_is_better=False, subjective_higher_is_better=mos, n_boot=0)
    for name in ("srcc", "krcc", "plcc", "plcc_logistic"):
        assert down.__getattribute__(name) == pytest.approx(-up.__getattribute__(name), abs=1e-12)
    assert down.rmse == up.rmse


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: agreement([1, 2, np.nan, 4, 5, 6, 7], range(7), higher_is_better=False), "NaN"),
        (lambda: agreement([1, 2, np.inf, 4, 5, 6, 7], range(7), higher_is_better=False), "infinite"),
        (lambda: agreement(range(7), range(8), higher_is_better=False), "one value per item"),
        (lambda: agreement(range(4), range(4), higher_is_better=False), "at least 6"),
        (lambda: agreement([3.0] * 7, range(7), higher_is_better=False), "same"),
        (lambda: agreement(range(7), [5] * 7, higher_is_better=False), "subjective"),
        (lambda: agreement(range(7), range(7), higher_is_better=False, groups=[0] * 6), "one label per item"),
        (lambda: agreement(range(7), range(7), higher_is_better=False, groups=[0] * 7), "at least 2 groups"),
        (lambda: agreement(range(7), range(7), higher_is_better=False, level=95), "level"),
        (lambda: agreement(range(7), range(7), higher_is_better=False, intervals_for=["srocc"]), "srocc"),
        (lambda: two_afc([1, 2], [2, 1], [0.5, 1.5]), "[0, 1]"),
        (lambda: jnd_map([1, 2], [0, 0]), "No pair"),
        (
            lambda: paired_difference(
                range(7), range(7), range(7), higher_is_better_a=True, higher_is_better_b=True, statistic="mae"
            ),
            "statistic",
        ),
        (lambda: agreement_by_type(range(8), range(8), list("aaaaaabb"), higher_is_better=False), "'b'"),
        (lambda: agreement([[1, 2]] * 7, range(7), higher_is_better=False), "1-D"),
    ],
)
def test_bad_input_gets_one_sentence(call, words) -> None:
    with pytest.raises(InputError) as caught:
        call()
    message = str(caught.value)
    assert words in message and message.count("\n") == 0
