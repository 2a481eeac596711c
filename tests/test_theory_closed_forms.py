"""Closed forms of rdpkit.theory against independent references: scipy entropies and integrals, brute force, the papers' stated facts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from rdpkit.errors import InputError
from rdpkit.theory import (
    bernoulli_rd,
    bernoulli_rdp,
    binary_entropy,
    gaussian_dr,
    gaussian_dr_perfect_realism,
    gaussian_drp_w2,
    gaussian_rd,
    gaussian_rdp_w2,
    mmse_linear,
    mutual_information,
    perception_distortion_linear,
    ternary_entropy,
    uniform_hamming_rd,
)

probability = st.floats(0.01, 0.5)


def test_entropies_match_scipy():
    for a in np.linspace(0, 1, 11):
        assert binary_entropy(a) == pytest.approx(stats.entropy([a, 1 - a], base=2), abs=1e-12)
    for a, b in [(0.1, 0.2), (0.5, 0.5), (0.0, 0.3), (1 / 3, 1 / 3)]:
        assert ternary_entropy(a, b) == pytest.approx(stats.entropy([a, b, 1 - a - b], base=2), abs=1e-12)


def test_mutual_information_is_h_x_plus_h_xhat_minus_joint_entropy():
    rng = np.random.default_rng(0)
    p, w = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(3), size=4)
    joint = p[:, None] * w
    expected = stats.entropy(p, base=2) + stats.entropy(joint.sum(0), base=2) - stats.entropy(joint.ravel(), base=2)
    assert mutual_information(p, w) == pytest.approx(expected, abs=1e-12)


def test_bernoulli_shannon_case_is_hb_p_minus_hb_d():
    D = np.linspace(0, 0.3, 31)
    expected = [stats.entropy([0.2, 0.8], base=2) - stats.entropy([d, 1 - d], base=2) if d < 0.2 else 0.0 for d in D]
    np.testing.assert_allclose(bernoulli_rd(D, 0.2), expected, atol=1e-12)
    # P ≥ p: the perception constraint is inactive and R is Shannon's R(D).
    for P in (0.2, 0.3, 1.0, math.inf):
        np.testing.assert_allclose(bernoulli_rdp(D, P, 0.2), expected, atol=1e-12)


def test_bernoulli_half_at_perfect_perception_uses_the_limit_of_d1():
    D = np.linspace(0, 0.6, 13)
    # D1 = 0/0 → 1/2 = D2: R = 1 − Hb(D) on [0, 1/2), then 0.
    np.testing.assert_allclose(bernoulli_rdp(D, 0.0, 0.5), np.where(D < 0.5, 1 - binary_entropy(np.minimum(D, 0.5)), 0.0), atol=1e-12)


def test_bernoulli_is_vectorised_and_symmetric():
    D, P = np.linspace(0, 0.4, 9)[None, :], np.linspace(0, 0.3, 4)[:, None]
    r = bernoulli_rdp(D, P, 0.3)
    assert r.shape == (4, 9)
    np.testing.assert_allclose(r, bernoulli_rdp(D, P, 0.7), atol=1e-14)
    np.testing.assert_allclose(r[:, 0], binary_entropy(0.3))  # lossless: every curve starts at H(X)
    assert bernoulli_rdp(math.inf, 0.0, 0.3) == 0.0


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.01, 0.49), frac=st.floats(0.0, 0.99))
def test_bernoulli_is_continuous_at_d1_and_d2(p, frac):
    P = frac * p
    q = 1 - p
    d1, d2 = P / (1 - 2 * (p - P)), 2 * p * q - (q - p) * P
    eps = 1e-9
    for knot in (d1, d2):
        assert abs(bernoulli_rdp(max(knot - eps, 0.0), P, p) - bernoulli_rdp(knot + eps, P, p)) < 1e-6


@settings(max_examples=200, deadline=None)
@given(p=probability, d=st.floats(0.0, 0.5), P1=st.floats(0.0, 0.5), P2=st.floats(0.0, 0.5), lam=st.floats(0, 1))
def test_bernoulli_is_monotone_and_convex_in_d_and_p(p, d, P1, P2, lam):
    lo, hi = sorted((P1, P2))
    assert bernoulli_rdp(d, lo, p) >= bernoulli_rdp(d, hi, p) - 1e-12
    assert bernoulli_rdp(d, lo, p) >= bernoulli_rdp(d + 0.01, lo, p) - 1e-12
    a, b = np.array([d, P1]), np.array([0.5 - d, P2])
    mid = lam * a + (1 - lam) * b
    assert bernoulli_rdp(*mid, p) <= lam * bernoulli_rdp(*a, p) + (1 - lam) * bernoulli_rdp(*b, p) + 1e-9


@pytest.mark.parametrize("args", [(-0.1, 0.0, 0.1), (0.1, -0.01, 0.1), (0.1, 0.0, 1.5), (math.nan, 0.0, 0.1)])
def test_bernoulli_rejects_out_of_range_arguments(args):
    with pytest.raises(InputError, match="must lie in"):
        bernoulli_rdp(*args)


def test_uniform_hamming_rd_is_binary_case_for_m_2():
    D = np.linspace(0, 0.6, 13)
    np.testing.assert_allclose(uniform_hamming_rd(D, 2), bernoulli_rd(D, 0.5), atol=1e-12)
    assert uniform_hamming_rd(0.0, 8) == pytest.approx(3.0)


@settings(max_examples=100, deadline=None)
@given(R=st.floats(0.0, 8.0), sigma=st.floats(0.1, 10.0))
def test_perfect_realism_distortion_lies_between_one_and_two_shannon(R, sigma):
    d0, shannon = gaussian_dr_perfect_realism(R, sigma), gaussian_dr(R, sigma)
    assert d0 == pytest.approx(2 * sigma**2 * (1 - math.sqrt(1 - 2 ** (-2 * R))), rel=1e-9)
    assert shannon * (1 - 1e-12) <= d0 <= 2 * shannon * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(R=st.floats(0.01, 6.0), P=st.floats(0.0, 2.0), sigma=st.floats(0.2, 5.0))
def test_gaussian_drp_inverts_rdp(R, P, sigma):
    P = P * sigma**2
    assert gaussian_rdp_w2(gaussian_drp_w2(R, P, sigma), P, sigma) == pytest.approx(R, rel=1e-7, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(D=st.floats(1e-4, 2.0))
def test_theorem_2_on_the_gaussian_closed_form(D):
    # R(D, 0) ≤ R(D/2, ∞) for squared error (ICML 2019, Theorem 2).
    assert gaussian_rdp_w2(D, 0.0) <= gaussian_rd(D / 2) + 1e-12


def test_gaussian_rdp_limits():
    D = np.linspace(0.05, 1.5, 30)
    np.testing.assert_allclose(gaussian_rdp_w2(D, 4.0), gaussian_rd(D), atol=1e-12)  # W2² ≤ σ²·4 never binds
    assert gaussian_rdp_w2(2.0, 0.0) == 0.0 and math.isinf(gaussian_rdp_w2(0.0, 0.3))
    with pytest.raises(InputError, match="non-negative"):
        gaussian_rdp_w2(0.5, -1.0)


def _kl_by_quadrature(variance: float) -> float:
    def integrand(x):
        return stats.norm.pdf(x) * (stats.norm.logpdf(x) - stats.norm.logpdf(x, scale=math.sqrt(variance)))

    return integrate.quad(integrand, -12, 12)[0]


@pytest.mark.parametrize("noise_std", [0.5, 1.0, 2.0])
def test_perception_distortion_matches_brute_force_over_linear_estimators(noise_std):
    a = np.linspace(0.0, 1.0, 200001)
    mse = 1 - 2 * a + a**2 * (1 + noise_std**2)
    for D in np.linspace(mmse_linear(noise_std) + 1e-3, 1.2, 7):
        best = a[mse <= D].max()  # KL(p_X ‖ p_X̂) falls in a up to a = 1/√(1 + σ²)
        best = min(best, 1 / math.sqrt(1 + noise_std**2))
        expected = _kl_by_quadrature(best**2 * (1 + noise_std**2))
        assert perception_distortion_linear(D, noise_std) == pytest.approx(expected, abs=2e-4)
    assert math.isinf(perception_distortion_linear(mmse_linear(noise_std) * 0.99, noise_std))


def test_closed_forms_import_neither_cvxpy_nor_matplotlib():
    import subprocess
    import sys

    code = "import sys, rdpkit.theory as t; t.bernoulli_rdp(0.1, 0.0, 0.2); print('cvxpy' in sys.modules, 'matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["False", "False"]
