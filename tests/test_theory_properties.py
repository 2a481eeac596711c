"""Theorems 1 and 2 of Blau & Michaeli (ICML 2019) as property tests of the numerical R(D, P) solver."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rdpkit.theory import RDPProblem, squared_error

TOL = 2e-6  # bits: well above the solver's duality gaps (~1e-8), far below the effects tested
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, perceptions=("tv", "kl")) -> RDPProblem:
    """A random source of 2-4 symbols with a random distortion that is 0 on the diagonal (so every (D, P) is feasible)."""
    m = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(m, 2.0))
    cost = rng.uniform(0.2, 1.0, (m, m))
    np.fill_diagonal(cost, 0.0)
    return RDPProblem(p, cost, draw(st.sampled_from(perceptions)))


unit = st.floats(0.0, 1.0)


@PROPERTY
@given(problem=problems(), d=st.tuples(unit, unit), P=unit, P2=unit)
def test_rate_is_non_increasing_in_d_and_in_p(problem, d, P, P2):
    scale = problem.max_distortion
    lo, hi = sorted(d)
    P, P2 = sorted((0.3 * P, 0.3 * P2))
    assert problem.rate(lo * scale, P) >= problem.rate(hi * scale, P) - TOL
    assert problem.rate(lo * scale, P) >= problem.rate(lo * scale, P2) - TOL


@PROPERTY
@given(problem=problems(), a=st.tuples(unit, unit), b=st.tuples(unit, unit), lam=unit)
def test_rate_is_convex_in_d_and_p(problem, a, b, lam):
    scale = np.array([problem.max_distortion, 0.3])
    a, b = np.array(a) * scale, np.array(b) * scale
    mid = lam * a + (1 - lam) * b
    assert problem.rate(*mid) <= lam * problem.rate(*a) + (1 - lam) * problem.rate(*b) + TOL


@PROPERTY
@given(problem=problems())
def test_perfect_perception_raises_the_curve_where_a2_holds(problem):
    # A2: k(z) = E[Δ(X, z)] does not attain its minimum on the whole support of p_X. At D0 = min k,
    # Shannon's rate is 0 (a constant reconstruction), but a zero-rate X̂ with p_X̂ = p_X costs Σ p(z) k(z) > D0.
    k = problem.source @ problem.cost
    assume(k.max() - k.min() > 0.05)
    D0 = float(k.min())
    assert problem.rate(D0, math.inf) < TOL
    assert problem.rate(D0, 0.0) > 1e-4


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(3, 6), d=st.floats(0.05, 1.0))
def test_theorem_2_perfect_perception_at_d_needs_no_more_than_shannon_at_half_d(seed, m, d):
    rng = np.random.default_rng(seed)
    points = np.sort(rng.normal(size=m))
    p = rng.dirichlet(np.full(m, 2.0))
    problem = RDPProblem(p, squared_error(points), "tv")
    variance = float(p @ points**2 - (p @ points) ** 2)
    D = d * variance
    assert problem.rate(D, 0.0) <= problem.rate(D / 2, math.inf) + TOL
