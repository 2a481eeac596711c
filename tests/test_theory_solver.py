"""The finite-alphabet R(D, P) solver against closed forms, Blahut-Arimoto, POT and scipy, and its one-sentence errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rdpkit.errors import InputError
from rdpkit.theory import (
    RDPProblem,
    bernoulli_rdp,
    discretised_gaussian,
    gaussian_rdp_w2,
    hamming,
    solve_rdp,
    squared_error,
    uniform_hamming_rd,
)

RATE_TOL = 1e-4  # bits: the accuracy the issue asks of the solver


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_reproduces_the_bernoulli_closed_form(p):
    problem = RDPProblem([1 - p, p], hamming(2), "tv")
    Ds = np.linspace(0.0, 2 * p * (1 - p) * 1.1, 8)
    Ps = np.array([0.0, 0.2 * p, 0.5 * p, 0.9 * p, 1.5 * p])
    np.testing.assert_allclose(problem.grid(Ds, Ps), bernoulli_rdp(Ds[None, :], Ps[:, None], p), atol=RATE_TOL)


@pytest.mark.parametrize("m", [2, 3, 5, 8])
def test_reproduces_shannon_for_the_uniform_source_with_hamming_distortion(m):
    problem = RDPProblem(np.full(m, 1 / m), hamming(m))
    for D in np.linspace(0.0, 1.0, 6):
        assert problem.rate(D) == pytest.approx(float(uniform_hamming_rd(D, m)), abs=RATE_TOL)


def _blahut_arimoto(p: np.ndarray, cost: np.ndarray, s: float, iterations: int = 5000) -> tuple[float, float]:
    """One point (D, R in bits) of Shannon's R(D) at slope −s (Blahut 1972), as an independent reference."""
    q = np.full(cost.shape[1], 1 / cost.shape[1])
    kernel = np.exp(-s * cost)
    for _ in range(iterations):
        w = q * kernel
        w /= w.sum(axis=1, keepdims=True)
        q = p @ w
    D = float((p[:, None] * w * cost).sum())
    on = w > 0
    R = float((p[:, None] * w)[on] @ np.log2(w[on] / np.broadcast_to(q, w.shape)[on]))
    return D, R


@pytest.mark.parametrize("seed", [0, 1])
def test_reproduces_blahut_arimoto_for_a_random_source_and_distortion(seed):
    rng = np.random.default_rng(seed)
    p, cost = rng.dirichlet(np.ones(4)), rng.uniform(0.0, 1.0, (4, 5))
    problem = RDPProblem(p, cost)
    for s in (2.0, 5.0, 12.0):
        D, R = _blahut_arimoto(p, cost, s)
        assert problem.rate(D) == pytest.approx(R, abs=RATE_TOL)


def test_solution_is_consistent_and_certified():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(6))
    sol = solve_rdp(p, hamming(6), D=0.3, P=0.05, perception="kl")
    assert sol.status == "optimal" and sol.duality_gap < 1e-6
    assert np.all(sol.channel >= 0) and np.allclose(sol.channel.sum(axis=1), 1)
    joint = p[:, None] * sol.channel
    mi = stats.entropy(p, base=2) + stats.entropy(joint.sum(0), base=2) - stats.entropy(joint.ravel(), base=2)
    assert sol.rate == pytest.approx(mi, abs=1e-9)
    assert sol.perception == pytest.approx(stats.entropy(p, sol.output_pmf), abs=1e-9)  # KL(p_X ‖ p_X̂), nats
    assert sol.perception <= 0.05 + 1e-6 and sol.distortion <= 0.3 + 1e-6
    # The KL constraint binds here: the unconstrained optimum is farther from p_X.
    assert solve_rdp(p, hamming(6), D=0.3).perception > 0.05 + 1e-3


def test_ot_perception_with_hamming_cost_is_tv():
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(4))
    for D, P in [(0.2, 0.05), (0.4, 0.1)]:
        ot_sol, tv_sol = solve_rdp(p, hamming(4), D, P, "ot"), solve_rdp(p, hamming(4), D, P, "tv")
        assert ot_sol.rate == pytest.approx(tv_sol.rate, abs=RATE_TOL)


def test_ot_value_matches_pot():
    import ot

    from rdpkit.theory.divergences import PERCEPTIONS

    rng = np.random.default_rng(5)
    p, q, cost = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5)), rng.uniform(0, 2, (5, 5))
    assert PERCEPTIONS["ot"].value(p, q, cost) == pytest.approx(ot.emd2(p, q, cost), abs=1e-9)


@pytest.mark.parametrize("name", ["reverse-kl", "hellinger"])
def test_other_divergences_bind_and_are_reported(name):
    rng = np.random.default_rng(6)
    p = rng.dirichlet(np.ones(5))
    free = solve_rdp(p, hamming(5), D=0.3)
    from rdpkit.theory.divergences import PERCEPTIONS

    P = 0.5 * PERCEPTIONS[name].value(p, free.output_pmf, hamming(5))
    sol = solve_rdp(p, hamming(5), D=0.3, P=P, perception=name)
    assert sol.perception == pytest.approx(P, abs=1e-6)
    assert sol.rate > free.rate + 1e-4


def test_discretised_gaussian_matches_the_w2_closed_form_at_perfect_realism_and_without_constraint():
    points, pmf = discretised_gaussian(25, width=4.5)
    problem = RDPProblem(pmf, squared_error(points), "ot")
    for D in (0.3, 0.6):
        assert problem.rate(D, 0.0) == pytest.approx(float(gaussian_rdp_w2(D, 0.0)), abs=2e-3)
        assert problem.rate(D, math.inf) == pytest.approx(float(gaussian_rdp_w2(D, math.inf)), abs=2e-3)


def test_zero_probability_symbols_and_rectangular_distortion_for_shannon():
    sol = solve_rdp([0.5, 0.0, 0.5], hamming(3), D=0.1, P=0.0)
    assert sol.rate == pytest.approx(float(uniform_hamming_rd(0.1, 2)), abs=RATE_TOL)
    # Erasure: a third reconstruction "?" at cost 1/2; without perception constraint X̂'s alphabet may differ from X's.
    cost = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]])
    D, R = _blahut_arimoto(np.array([0.5, 0.5]), cost, 4.0)
    assert solve_rdp([0.5, 0.5], cost, D).rate == pytest.approx(R, abs=RATE_TOL)
    assert math.isnan(solve_rdp([0.5, 0.5], cost, D).perception)


def test_grid_matches_single_solves():
    problem = RDPProblem([0.7, 0.3], hamming(2), "kl")
    grid = problem.grid([0.05, 0.2], [0.0, 0.01, math.inf])
    assert grid.shape == (3, 2)
    assert grid[1, 0] == pytest.approx(solve_rdp([0.7, 0.3], hamming(2), 0.05, 0.01, "kl").rate, abs=1e-7)


@pytest.mark.parametrize(
    ("source", "cost", "D", "P", "perception", "message"),
    [
        ([0.5, 0.6], hamming(2), 0.1, 0.0, "tv", "sums to 1.1"),
        ([1.2, -0.2], hamming(2), 0.1, 0.0, "tv", "negative entry"),
        ([0.5, math.nan], hamming(2), 0.1, 0.0, "tv", "NaN"),
        ([[0.5, 0.5]], hamming(2), 0.1, 0.0, "tv", "1-D"),
        ([0.5, 0.5], hamming(3), 0.1, 0.0, "tv", "must be 2×n"),
        ([0.5, 0.5], -hamming(2), 0.1, 0.0, "tv", "negative entry"),
        ([0.5, 0.5], hamming(2), -0.1, 0.0, "tv", "D must be a non-negative"),
        ([0.5, 0.5], hamming(2), 0.1, -1.0, "tv", "P must be a non-negative"),
        ([0.5, 0.5], hamming(2), 0.1, 0.0, "tvd", "did you mean 'tv'"),
        ([0.5, 0.5], [[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]], 0.1, 0.1, "tv", "must be square"),
        ([0.5, 0.5], 1 + hamming(2), 0.5, math.inf, "tv", "below 1"),
        # Reaching D = 0 needs X̂ = 1 − X, whose distribution is far from p_X when P = 0: the least distortion there is 0.8.
        ([0.9, 0.1], [[1.0, 0.0], [0.0, 1.0]], 0.5, 0.0, "tv", "reachable at that perception is 0.8"),
    ],
)
def test_bad_input_gets_one_sentence(source, cost, D, P, perception, message):
    with pytest.raises(InputError, match=message):
        solve_rdp(source, cost, D, P, perception)


def test_a_perception_bound_below_the_solver_s_precision_is_the_exact_constraint():
    """Found by the convexity property in CI: at P = 3.5e-39 two solves of one point differed by 3e-6 bits (a ball of
    radius far below the interior-point method's precision). Such a P is solved as P = 0, the same every time."""
    from rdpkit.theory.solver import EXACT_BELOW, RDPProblem

    problem = RDPProblem([0.2, 0.5, 0.3], 1.0 - np.eye(3), "tv")
    exact = problem.rate(0.1, 0.0)
    assert [problem.rate(0.1, p) for p in (3.5e-39, EXACT_BELOW, 3.5e-39)] == [exact] * 3
    assert problem.rate(0.1, 1e-3) <= exact
