"""R(D, P) of any finite-alphabet source, by convex optimisation (cvxpy with the Clarabel interior-point solver).

    R(D, P) = min over p(x̂|x) of I(X; X̂)  s.t.  E[Δ(X, X̂)] ≤ D,  d(p_X, p_X̂) ≤ P

(Blau & Michaeli, ICML 2019, eq. 4). The variable is the joint pmf J(x, x̂) = p(x) p(x̂|x) with
output marginal q; I(X; X̂) = Σ J log(J / (p ⊗ q)) is the sum of `rel_entr` terms, jointly
convex in (J, q), and every supported perception index is convex in q, so the program is
convex and the interior-point solver returns a primal-dual pair whose gap certifies the rate.
D and P are cvxpy parameters: a problem is compiled once and re-solved for every (D, P).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError, RdpkitError
from .divergences import Perception
from .divergences import perception as get_perception
from .entropy import mutual_information

PMF_TOLERANCE = 1e-6
# Interior-point settings tried in turn: with equilibration off Clarabel converges on far more
# of these exponential-cone programs (measured on random sources of 16-64 symbols).
CLARABEL_ATTEMPTS: tuple[dict[str, Any], ...] = ({"equilibrate_enable": False}, {"max_step_fraction": 0.9}, {})


#: A perception bound this small is solved as P = 0 (p_X̂ = p_X exactly): a ball of radius below the conic solver's
#: precision is ill-posed, and gave rates that differed by 3e-6 bits at one point between two solves (P = 3.5e-39).
EXACT_BELOW = 1e-12


class SolverFailed(RdpkitError):
    """The conic solver stopped without a certified optimum."""


@dataclass(frozen=True)
class RDPSolution:
    """One point of R(D, P) with the channel that attains it and the certificate of optimality."""

    rate: float  # I(X; X̂) of `channel`, bits
    channel: np.ndarray  # p(x̂|x), one row per source symbol
    output_pmf: np.ndarray  # p_X̂
    distortion: float  # E[Δ(X, X̂)] of `channel`
    perception: float  # d(p_X, p_X̂) of `channel` (nan when the reconstruction alphabet differs from the source's)
    D: float
    P: float
    perception_index: str
    status: str  # cvxpy's status: "optimal" or "optimal_inaccurate"
    duality_gap: float  # primal − dual objective of the conic program, bits: the rate is optimal to within it
    iterations: int
    seconds: float = field(compare=False)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channel"] = self.channel.tolist()
        d["output_pmf"] = self.output_pmf.tolist()
        return d


@dataclass
class _Compiled:
    problem: cp.Problem
    joint: cp.Variable
    output: cp.Variable
    D: cp.Parameter
    P: cp.Parameter | None


def _as_float(name: str, v: float) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {v!r}.") from None
    if math.isnan(v) or v < 0:
        raise InputError(f"{name} must be a non-negative number (or inf), got {v!r}.")
    return v


def _check_source(source_pmf: ArrayLike) -> np.ndarray:
    p = np.asarray(source_pmf, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise InputError(f"the source pmf must be a non-empty 1-D array of probabilities, got shape {p.shape}.")
    if not np.isfinite(p).all():
        raise InputError("the source pmf contains NaN or Inf; give finite probabilities.")
    if (p < 0).any():
        raise InputError(f"the source pmf has a negative entry {p[p < 0][0]:.6g} at symbol {int(np.flatnonzero(p < 0)[0])}; probabilities must be ≥ 0.")
    if abs(p.sum() - 1.0) > PMF_TOLERANCE:
        raise InputError(f"the source pmf sums to {p.sum():.8g}, not 1; divide it by its sum.")
    return p / p.sum()


def _check_distortion(distortion_matrix: ArrayLike, m: int) -> np.ndarray:
    cost = np.asarray(distortion_matrix, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] != m or cost.shape[1] == 0:
        raise InputError(f"the distortion matrix must be {m}×n (one row per source symbol, one column per reconstruction symbol), got shape {cost.shape}.")
    if not np.isfinite(cost).all():
        raise InputError("the distortion matrix contains NaN or Inf; give finite distortions.")
    if (cost < 0).any():
        raise InputError(f"the distortion matrix has a negative entry {cost[cost < 0][0]:.6g}; distortions must be ≥ 0.")
    return cost


class RDPProblem:
    """R(D, P) of one source, distortion matrix and perception index, solved for any number of (D, P).

    >>> problem = RDPProblem([0.9, 0.1], [[0, 1], [1, 0]], perception="tv")
    >>> problem.solve(D=0.05, P=0.02).rate        # bits; equals bernoulli_rdp(0.05, 0.02, 0.1)
    """

    def __init__(self, source_pmf: ArrayLike, distortion_matrix: ArrayLike, perception: str = "tv") -> None:
        self.source = _check_source(source_pmf)
        self.cost = _check_distortion(distortion_matrix, self.source.size)
        self.perception: Perception = get_perception(perception)
        self.support = np.flatnonzero(self.source > 0)
        p, cost = self.source[self.support], self.cost[self.support]
        # Any channel's distortion lies between these two; D above the second constrains nothing.
        self.min_distortion = float(p @ cost.min(axis=1))
        self.max_distortion = float(p @ cost.max(axis=1))
        self._compiled: dict[str, _Compiled] = {}

    @property
    def square(self) -> bool:
        return self.cost.shape[0] == self.cost.shape[1]

    def _compile(self, mode: str) -> _Compiled:
        """mode: "free" (no perception constraint), "exact" (p_X̂ = p_X, i.e. P = 0) or "ball" (d ≤ P)."""
        if mode in self._compiled:
            return self._compiled[mode]
        p, cost = self.source[self.support], self.cost[self.support]
        m, n = cost.shape
        joint = cp.Variable((m, n), nonneg=True)
        output = cp.Variable(n, nonneg=True)
        D = cp.Parameter(nonneg=True)
        P = cp.Parameter(nonneg=True) if mode == "ball" else None
        independent = p[:, None] @ cp.reshape(output, (1, n), order="C")
        constraints = [cp.sum(joint, axis=1) == p, cp.sum(joint, axis=0) == output, cp.sum(cp.multiply(cost, joint)) <= D]
        if mode == "exact":
            # d(p, q) = 0 has no interior; the equivalent q = p keeps the interior-point method well posed.
            constraints.append(output == self.source)
        elif mode == "ball":
            constraints += self.perception.constraints(self.source, output, P, self.cost)
        problem = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(joint, independent))), constraints)
        self._compiled[mode] = compiled = _Compiled(problem, joint, output, D, P)
        return compiled

    def _mode(self, P: float) -> str:
        if P >= self.perception.largest(self.cost):
            return "free"
        if not self.square:
            raise InputError(f"a perception constraint compares p_X and p_X̂, so the distortion matrix must be square, got {self.cost.shape}; use P = inf for Shannon's R(D).")
        return "exact" if P <= EXACT_BELOW else "ball"

    def solve(self, D: float, P: float = math.inf) -> RDPSolution:
        """R(D, P) in bits and the optimal channel; P = inf gives Shannon's R(D)."""
        D, P = _as_float("D", D), _as_float("P", P)
        if D < self.min_distortion * (1 - 1e-12):
            raise InputError(f"D = {D:.6g} is below {self.min_distortion:.6g}, the smallest expected distortion any reconstruction reaches "
                             f"(each symbol mapped to its closest reconstruction); raise D.")
        mode = self._mode(P)
        compiled = self._compile(mode)
        compiled.D.value = min(max(D, self.min_distortion), self.max_distortion)
        if compiled.P is not None:
            compiled.P.value = P  # "ball" only: P > EXACT_BELOW
        start = time.perf_counter()
        raw, status, joint = self._run(compiled)
        seconds = time.perf_counter() - start
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            reachable = self.min_distortion_at(P)
            raise InputError(f"no reconstruction has distortion ≤ D = {D:.6g} and {self.perception.name} ≤ P = {P:.6g}: the smallest distortion "
                             f"reachable at that perception is {reachable:.6g}; raise D or P.")
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise SolverFailed(f"the conic solver stopped with status {status!r} at D = {D:.6g}, P = {P:.6g} for a {self.cost.shape[0]}×{self.cost.shape[1]} "
                               "problem; try a nearby (D, P), or fewer symbols (merge rare ones).")
        return self._solution(joint, raw, status, D, P, seconds)

    @staticmethod
    def _run(compiled: _Compiled) -> tuple[Any, str, np.ndarray | None]:
        """Solve through get_problem_data / solve_via_data so the solver's own dual objective is kept.

        Returns the raw solver result, cvxpy's status and the joint pmf of the best attempt.
        """
        problem = compiled.problem
        best: tuple[Any, str, np.ndarray | None] = (None, cp.SOLVER_ERROR, None)
        for settings in CLARABEL_ATTEMPTS:
            data, chain, inverse = problem.get_problem_data(cp.CLARABEL, solver_opts=settings)
            raw = chain.solve_via_data(problem, data, solver_opts=settings)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate": the status says so, and is reported
                    problem.unpack_results(raw, chain, inverse)
            except cp.error.SolverError:
                continue
            joint = None if compiled.joint.value is None else compiled.joint.value.copy()
            best = (raw, problem.status, joint)
            if problem.status in (cp.OPTIMAL, cp.INFEASIBLE):
                break
        return best

    def _solution(self, joint: np.ndarray, raw: Any, status: str, D: float, P: float, seconds: float) -> RDPSolution:
        n = self.cost.shape[1]
        joint = np.clip(joint, 0.0, None)
        rows = joint / np.maximum(joint.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        channel = np.empty((self.source.size, n))
        channel[self.support] = rows
        output = self.source[self.support] @ rows
        # Symbols of probability 0 never occur: give them the output pmf, which adds no information.
        channel[self.source == 0] = output
        rate = mutual_information(self.source, channel)
        distortion = float((self.source[:, None] * channel * self.cost).sum())
        perception = self.perception.value(self.source, output, self.cost) if self.square else math.nan
        gap = abs(raw.obj_val - raw.obj_val_dual) / math.log(2)
        return RDPSolution(rate, channel, output, distortion, perception, D, P, self.perception.name, status, gap, int(raw.iterations), seconds)

    def min_distortion_at(self, P: float) -> float:
        """The smallest E[Δ] of any channel whose output pmf is within P of the source's."""
        mode = self._mode(_as_float("P", P))
        if mode == "free":
            return self.min_distortion
        p, cost = self.source[self.support], self.cost[self.support]
        joint = cp.Variable(cost.shape, nonneg=True)
        output = cp.sum(joint, axis=0)
        bound = cp.Parameter(nonneg=True, value=P)
        constraints = [cp.sum(joint, axis=1) == p]
        constraints += [output == self.source] if mode == "exact" else self.perception.constraints(self.source, output, bound, self.cost)
        problem = cp.Problem(cp.Minimize(cp.sum(cp.multiply(cost, joint))), constraints)
        problem.solve(solver=cp.CLARABEL)
        return float(problem.value)

    def rate(self, D: float, P: float = math.inf) -> float:
        """R(D, P) in bits."""
        return self.solve(D, P).rate

    def grid(self, D: Sequence[float] | np.ndarray, P: Sequence[float] | np.ndarray, progress: bool = False) -> np.ndarray:
        """R at every (P[i], D[j]), bits, as an array of shape (len(P), len(D))."""
        from tqdm.auto import tqdm

        Ds, Ps = np.asarray(D, dtype=np.float64).ravel(), np.asarray(P, dtype=np.float64).ravel()
        rates = np.empty((Ps.size, Ds.size))
        with tqdm(total=rates.size, desc="R(D, P)", unit="point", disable=not progress) as bar:
            for i, p_value in enumerate(Ps):
                for j, d_value in enumerate(Ds):
                    rates[i, j] = self.solve(d_value, p_value).rate
                    bar.update()
        return rates


def solve_rdp(source_pmf: ArrayLike, distortion_matrix: ArrayLike, D: float, P: float = math.inf,
              perception: str = "tv") -> RDPSolution:
    """R(D, P) in bits of a finite source under any distortion matrix and a convex perception index.

    source_pmf: the m probabilities of X. distortion_matrix: m×n, Δ(x, x̂) ≥ 0 (square when P
    is finite: X̂ lives on X's alphabet). perception: "tv", "kl", "reverse-kl", "hellinger" or
    "ot" (see `rdpkit.theory.divergences`). P = inf (or any P no pmf pair exceeds) gives
    Shannon's R(D). To solve many (D, P) for one source, use `RDPProblem`, which compiles once.
    """
    return RDPProblem(source_pmf, distortion_matrix, perception).solve(D, P)
