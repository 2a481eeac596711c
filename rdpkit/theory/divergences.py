"""The perception indices d(p_X, p_X̂) the finite-alphabet solver supports, as convex constraints.

Each is convex in p_X̂ (assumption A1 of Blau & Michaeli, ICML 2019), so R(D, P) stays a
convex program. Values are in nats where a logarithm is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..errors import InputError, RdpkitError, suggestion

# Builds the constraints "d(p, q) ≤ P" for a constant pmf p, a cvxpy pmf q, the parameter P and the distortion matrix.
ConstraintBuilder = Callable[[np.ndarray, cp.Expression, cp.Parameter, np.ndarray], list[cp.Constraint]]


@dataclass(frozen=True)
class Perception:
    """A divergence between the source pmf and the reconstruction pmf."""

    name: str
    summary: str
    value: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    constraints: ConstraintBuilder
    largest: Callable[[np.ndarray], float]  # the supremum of d(p, ·) given the cost matrix: P at or above it constrains nothing


def _tv(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def _tv_constraints(p: np.ndarray, q: cp.Expression, P: cp.Parameter, cost: np.ndarray) -> list[cp.Constraint]:
    return [0.5 * cp.norm1(q - p) <= P]


def _kl_terms(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a log(a / b) in nats, +∞ when b = 0 somewhere a > 0."""
    on = a > 0
    if (b[on] <= 0).any():
        return np.inf
    return float((a[on] * np.log(a[on] / b[on])).sum())


def _kl(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    return _kl_terms(p, q)


def _kl_constraints(p: np.ndarray, q: cp.Expression, P: cp.Parameter, cost: np.ndarray) -> list[cp.Constraint]:
    on = np.flatnonzero(p > 0)
    return [cp.sum(cp.rel_entr(p[on], q[on])) <= P]


def _reverse_kl(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    return _kl_terms(q, p)


def _reverse_kl_constraints(p: np.ndarray, q: cp.Expression, P: cp.Parameter, cost: np.ndarray) -> list[cp.Constraint]:
    on, off = np.flatnonzero(p > 0), np.flatnonzero(p == 0)
    # KL(q ‖ p) is finite only if q puts no mass where p has none.
    return [cp.sum(cp.rel_entr(q[on], p[on])) <= P, *([q[off] == 0] if off.size else [])]


def _hellinger(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    return float(max(1.0 - np.sqrt(p * np.clip(q, 0.0, None)).sum(), 0.0))


def _hellinger_constraints(p: np.ndarray, q: cp.Expression, P: cp.Parameter, cost: np.ndarray) -> list[cp.Constraint]:
    return [1.0 - np.sqrt(p) @ cp.sqrt(q) <= P]


def _ot(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    """The transport LP min ⟨cost, π⟩ over couplings π of p and q, solved with HiGHS."""
    from scipy.optimize import linprog

    m, n = cost.shape
    q = np.clip(q, 0.0, None) / np.clip(q, 0.0, None).sum()
    rows = np.kron(np.eye(m), np.ones((1, n)))
    # The last column-sum constraint follows from the others; dropping it keeps rounding from making the LP infeasible.
    columns = np.kron(np.ones((1, m)), np.eye(n))[:-1]
    result = linprog(cost.ravel(), A_eq=np.vstack([rows, columns]), b_eq=np.concatenate([p, q[:-1]]), bounds=(0, None), method="highs")
    if result.status != 0:
        raise RdpkitError(f"the transport LP failed: {result.message}")
    return float(result.fun)


def _ot_constraints(p: np.ndarray, q: cp.Expression, P: cp.Parameter, cost: np.ndarray) -> list[cp.Constraint]:
    plan = cp.Variable(cost.shape, nonneg=True)
    return [cp.sum(plan, axis=1) == p, cp.sum(plan, axis=0) == q, cp.sum(cp.multiply(cost, plan)) <= P]


PERCEPTIONS: dict[str, Perception] = {
    p.name: p
    for p in (
        Perception("tv", "total variation ½ Σ |p_X − p_X̂|", _tv, _tv_constraints, lambda cost: 1.0),
        Perception("kl", "Kullback-Leibler KL(p_X ‖ p_X̂), nats", _kl, _kl_constraints, lambda cost: np.inf),
        Perception("reverse-kl", "Kullback-Leibler KL(p_X̂ ‖ p_X), nats", _reverse_kl, _reverse_kl_constraints, lambda cost: np.inf),
        Perception("hellinger", "squared Hellinger distance 1 − Σ √(p_X p_X̂)", _hellinger, _hellinger_constraints, lambda cost: 1.0),
        Perception("ot", "optimal-transport cost with the distortion matrix as ground cost (W2² for squared error)", _ot, _ot_constraints, lambda cost: float(cost.max())),
    )
}


def perception(name: str) -> Perception:
    """The perception index called `name`; an InputError names the supported ones otherwise."""
    try:
        return PERCEPTIONS[name]
    except KeyError:
        hint = suggestion(name, PERCEPTIONS)
        raise InputError(f"unknown perception index {name!r}; {hint + ' ' if hint else ''}"
                         f"the solver supports {', '.join(PERCEPTIONS)}.") from None
