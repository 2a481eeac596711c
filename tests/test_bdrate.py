"""BD-rate against closed forms, its perception-aware variant, and the admissible set."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rdpkit
from rdpkit.bdrate import (
    BDOverlapWarning,
    bd_distortion,
    bd_rate,
    bd_rate_at_perception,
    curve_at_perception,
)
from rdpkit.pareto import lower_envelope, non_dominated

METHODS = ["pchip", "cubic"]
# A typical R-D curve: PSNR-like quality rising with log-rate, four points.
RATES = np.array([0.1, 0.25, 0.5, 1.0])
QUALITY = np.array([28.0, 31.5, 34.2, 37.0])


@pytest.mark.parametrize("method", METHODS)
def test_identical_curves_give_zero(method):
    assert bd_rate(RATES, QUALITY, RATES, QUALITY, method=method) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("method", METHODS)
@given(k=st.floats(0.2, 5.0), wiggle=st.lists(st.floats(0.2, 3.0), min_size=4, max_size=4))
@settings(max_examples=40, deadline=None)
def test_rate_scaled_by_k_gives_k_minus_one(method, k, wiggle):
    d = np.cumsum(wiggle)  # any increasing distortion axis
    r = np.exp(np.linspace(-2, 1, 4) + np.array([0, 0.1, -0.05, 0.2]))
    assert bd_rate(r, d, k * r, d, method=method) == pytest.approx((k - 1) * 100, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_linear_log_rate_matches_the_closed_form(method):
    # log R = a − b·D is reproduced exactly by both interpolations, so the mean log-rate gap over
    # the shared interval [lo, hi] is (a2 − a1) − (b2 − b1)·(lo + hi)/2.
    a1, b1, a2, b2 = 3.0, 0.4, 2.5, 0.3
    d1, d2 = np.array([1.0, 2.0, 3.5, 5.0]), np.array([2.0, 3.0, 4.0, 6.0, 7.0])
    lo, hi = 2.0, 5.0
    expected = (np.exp((a2 - a1) - (b2 - b1) * (lo + hi) / 2) - 1) * 100
    got = bd_rate(np.exp(a1 - b1 * d1), d1, np.exp(a2 - b2 * d2), d2, method=method)
    assert got == pytest.approx(expected, rel=1e-9)


def test_orientation_and_order_do_not_matter():
    shuffled = [2, 0, 3, 1]
    a = bd_rate(RATES, QUALITY, RATES * 0.8, QUALITY + 0.3)
    assert bd_rate(RATES[shuffled], QUALITY[shuffled], (RATES * 0.8)[shuffled], (QUALITY + 0.3)[shuffled]) == pytest.approx(a)
    assert bd_rate(RATES, -QUALITY, RATES * 0.8, -(QUALITY + 0.3)) == pytest.approx(a)  # a distortion axis instead of quality
    assert a < -20, "a test codec that needs 20% fewer bits and gains quality saves more than 20%"


def test_pchip_and_cubic_differ_on_curved_data():
    r2 = RATES * np.array([0.7, 1.0, 0.9, 1.3])
    assert bd_rate(RATES, QUALITY, r2, QUALITY, method="pchip") != pytest.approx(bd_rate(RATES, QUALITY, r2, QUALITY, method="cubic"), rel=1e-6)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((RATES[:3], QUALITY[:3], RATES, QUALITY), {"method": "cubic"}, "needs at least 4"),
        ((RATES, QUALITY, RATES, QUALITY + 20), {}, "share no metric value interval"),
        ((RATES, [1, 1, 2, 3], RATES, QUALITY), {}, "does not move one way with the rate"),
        ((RATES, QUALITY, -RATES, QUALITY), {}, "positive finite rates"),
        ((RATES, QUALITY, RATES, QUALITY), {"method": "linear"}, "method must be one of"),
    ],
)
def test_bad_curves_are_one_sentence(args, kwargs, match):
    with pytest.raises(rdpkit.InputError, match=match):
        bd_rate(*args, **kwargs)


@pytest.mark.parametrize("delta", [bd_rate, bd_distortion])
def test_non_monotone_opposite_and_worsening_curves_give_no_delta(delta):
    # Each of these gave a number before (e.g. +28.6 % for a curve that rises and falls).
    with pytest.raises(rdpkit.InputError, match="test curve's metric does not move one way"):
        delta(RATES, QUALITY, RATES, [28.0, 33.0, 31.0, 37.0])
    with pytest.raises(rdpkit.InputError, match="move opposite ways"):
        delta(RATES, QUALITY, RATES, QUALITY[::-1].copy())
    with pytest.raises(rdpkit.InputError, match="anchor curve's metric gets worse as the rate rises"):
        delta(RATES, -QUALITY, RATES, -QUALITY, higher_is_better=True)
    assert delta(RATES, -QUALITY, RATES, -QUALITY, higher_is_better=False) == pytest.approx(0, abs=1e-12)


def test_perception_aware_bd_rate_uses_only_points_within_the_perception_bound():
    r = np.array([1, 2, 4, 8, 16, 1, 2, 4, 8, 16], dtype=float)
    d = np.array([0.09, 0.06, 0.04, 0.025, 0.015, 0.05, 0.035, 0.022, 0.014, 0.009])
    p = np.array([0.1, 0.1, 0.12, 0.11, 0.1, 0.9, 0.8, 0.7, 0.9, 0.8])  # the second row: better D, bad perception
    rc, dc = curve_at_perception(r, d, p, 0.2)
    np.testing.assert_array_equal(rc, r[:5])
    np.testing.assert_array_equal(dc, d[:5])
    k = 1.5
    for method in METHODS:
        assert bd_rate_at_perception((r, d, p), (k * r, d, p), 0.2, method=method) == pytest.approx(50.0)
    # Without the bound the low-distortion points define both curves; the answer is the same
    # shift, but computed on different points.
    assert bd_rate_at_perception((r, d, p), (k * r, d, p), 1.0) == pytest.approx(50.0)
    with pytest.raises(rdpkit.InputError, match="raise p_max"):
        bd_rate_at_perception((r, d, p), (r, d, p), 0.05)


def test_curve_at_perception_keeps_the_lowest_distortion_per_rate():
    r = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    d = np.array([0.5, 0.4, 0.45, 0.3, 0.35])  # (3, 0.35) is beaten by (2, 0.3)
    p = np.zeros(5)
    rc, dc = curve_at_perception(r, d, p, 0.0)
    np.testing.assert_array_equal(rc, [1.0, 2.0])
    np.testing.assert_array_equal(dc, [0.4, 0.3])


def test_admissible_set_of_a_hand_made_plane():
    # (distortion, perception): A and C trade off, B is dominated by A, D ties A exactly, E is best in D.
    pts = [[1.0, 3.0], [1.5, 3.5], [2.0, 1.0], [1.0, 3.0], [0.5, 5.0], [2.0, 2.0]]
    np.testing.assert_array_equal(non_dominated(pts), [True, False, True, True, True, False])
    np.testing.assert_array_equal(lower_envelope([1, 2, 2, 3, 4], [0.5, 0.4, 0.3, 0.35, 0.1]), [0, 2, 4])


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_admissible_set_matches_brute_force(points):
    p = np.array(points, dtype=float)
    expected = [not any(_dominates(q, x) for q in p) for x in p]
    np.testing.assert_array_equal(non_dominated(p), expected)


def test_admissible_set_refuses_nan():
    with pytest.raises(rdpkit.InputError, match="NaN or Inf"):
        non_dominated([[1.0, np.nan]])


def test_report_bd_table_compares_every_codec_with_the_first():
    import pandas as pd

    from rdpkit.sweep.report import bd_table

    rates = np.array([2.0, 4.0, 6.0, 8.0, 16.0])
    dist = np.array([0.06, 0.045, 0.04, 0.03, 0.02])
    perc = np.array([1.6, 1.1, 0.9, 0.7, 0.5])
    s = pd.DataFrame({"label": ["a"] * 5 + ["b"] * 5 + ["c"] * 2, "rate_bits": [*rates, *(1.25 * rates), 1.0, 2.0],
                      "distortion": [*dist, *dist, 0.5, 0.4], "perception": [*perc, *perc, 3.0, 3.0]})
    table = bd_table(s).set_index("test")
    p_max = float(np.median(s.perception))
    for method in METHODS:
        assert table.loc["b", f"BD-rate % ({method})"] == pytest.approx(25.0)
        assert str(table.loc["c", f"BD-rate % ({method})"]).startswith("n/a: ")  # no shared distortion interval
    # at P ≤ 1.0 (the median) three points per codec remain: enough for PCHIP, not for a cubic fit
    assert p_max == 1.0 and table.loc["b", "BD-rate % at P ≤ 1 (pchip)"] == pytest.approx(25.0)
    assert "needs 4" in table.loc["b", "BD-rate % at P ≤ 1 (cubic)"]
    assert bd_table(s[s.label == "a"]).empty


def test_bd_psnr_of_a_constant_gain_is_the_gain():
    for method in ("pchip", "cubic", "akima"):
        assert bd_distortion(RATES, QUALITY, RATES, QUALITY + 0.7, method=method) == pytest.approx(0.7, abs=1e-9)
        assert bd_distortion(RATES, QUALITY, RATES * 1.1, QUALITY, method=method) != 0


def test_bd_psnr_of_a_linear_curve_matches_the_closed_form():
    # PSNR = a + b·log(R): shifting rate by a factor k changes PSNR at equal rate by −b·log(k).
    a, b, k = 20.0, 4.0, 1.25
    r = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
    for method in ("pchip", "cubic", "akima"):
        assert bd_distortion(r, a + b * np.log(r), r * k, a + b * np.log(r), method=method) == pytest.approx(-b * np.log(k), rel=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_bd_values_agree_with_the_bjontegaard_package(method):
    bj = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(0)
    for _ in range(20):
        ra = np.sort(rng.uniform(0.05, 2.0, 4))
        pa = 30 + 4 * np.log(ra) + rng.normal(0, 0.1, 4).cumsum().clip(0)
        rb = ra * rng.uniform(0.8, 1.2)
        pb = pa + rng.uniform(-0.5, 0.5)
        # The package's pchip follows the JVET CTC reference (piecewise on log10 rate); the deltas agree to 1e-6 relative.
        assert bd_rate(ra, pa, rb, pb, method=method) == pytest.approx(bj.bd_rate(ra, pa, rb, pb, method=method), rel=1e-6, abs=1e-6)
        assert bd_distortion(ra, pa, rb, pb, method=method) == pytest.approx(bj.bd_psnr(ra, pa, rb, pb, method=method), rel=1e-6, abs=1e-6)


def test_a_small_overlap_is_flagged():
    with pytest.warns(BDOverlapWarning, match="share 14% of the shorter one's metric value span"):
        bd_rate([1, 2, 4, 8], [30, 32, 34, 36], [1, 2, 4, 8], [35.2, 37, 39, 41])


def test_strictest_shared_perception_is_the_lowest_level_where_both_curves_meet():
    from rdpkit.bdrate import strictest_shared_perception

    r = np.array([1, 2, 4, 8, 16], dtype=float)
    d = np.array([0.09, 0.06, 0.04, 0.025, 0.015])
    anchor_p = np.array([0.9, 0.7, 0.5, 0.3, 0.1])  # natural where it spends bits (JPEG-like)
    test_p = np.array([0.1, 0.3, 0.5, 0.7, 0.9])  # natural where it spends few
    anchor, test = (r, d, anchor_p), (0.5 * r, d, test_p)
    # At P ≤ 0.3 the anchor keeps distortions 0.015-0.025 and the test codec 0.06-0.09; at 0.5 they touch at 0.04 only;
    # at 0.7 they share 0.025-0.06, where the test codec needs half the bits.
    for lower in (0.1, 0.3, 0.5):
        with pytest.raises(rdpkit.InputError):
            bd_rate_at_perception(anchor, test, lower)
    level, bd = strictest_shared_perception(anchor, test)
    assert level == 0.7 and bd == bd_rate_at_perception(anchor, test, 0.7) == pytest.approx(-50.0, abs=0.5)  # pchip end slopes see the points outside
    with pytest.raises(rdpkit.InputError, match="at no perception level"):
        strictest_shared_perception((r, d, anchor_p), (r[:1], d[:1], test_p[:1]))
