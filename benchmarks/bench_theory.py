"""The finite-alphabet R(D, P) solver: speed on the issue's two targets, accuracy against the closed forms.

1. One R(D, P) point for a 16-symbol source (target: under 1 s): random sources (Dirichlet),
   Hamming and random distortion matrices, TV and KL perception, several (D, P). Prints the
   first solve (which compiles the cvxpy problem) and later solves of the same problem (which
   only re-solve), and checks the uniform 16-ary source at P = ∞ against Shannon's closed form.
2. A 50×50 (D, P) grid for a binary source (target: under 1 min) with `RDPProblem.grid`,
   checked point by point against `bernoulli_rdp` (ICML 2019, eq. 6).

There is no peer library that computes R(D, P); the closed forms are the reference. Exit status
is 1 when any rate differs from its closed form by more than 1e-4 bits or a solve fails, never
because of speed.

    .venv/bin/python benchmarks/bench_theory.py [--p 0.1] [--grid 50] [--sources 4]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np

from rdpkit.errors import RdpkitError
from rdpkit.theory import RDPProblem, bernoulli_rdp, hamming, uniform_hamming_rd

RATE_TOL = 1e-4


def sixteen_symbols(sources: int) -> bool:
    ok = True
    first, later, gaps = [], [], []
    points = [(0.1, 0.01), (0.3, 0.05), (0.5, 0.0), (0.2, 0.2)]
    for seed in range(sources):
        rng = np.random.default_rng(seed)
        p = rng.dirichlet(np.ones(16))
        random_cost = rng.uniform(0.0, 1.0, (16, 16))
        np.fill_diagonal(random_cost, 0.0)
        for cost_name, cost in (("hamming", hamming(16)), ("random", random_cost)):
            for perception in ("tv", "kl"):
                problem = RDPProblem(p, cost, perception)
                for i, (D, P) in enumerate(points):
                    start = time.perf_counter()
                    try:
                        solution = problem.solve(D * problem.max_distortion, P)
                    except RdpkitError as exc:  # a failure is a result here, reported and counted
                        print(f"  FAILED seed {seed} {cost_name} {perception} D={D} P={P}: {exc}")
                        ok = False
                        continue
                    (first if i == 0 else later).append(time.perf_counter() - start)
                    gaps.append(solution.duality_gap)
    uniform = RDPProblem(np.full(16, 1 / 16), hamming(16))
    errors = [abs(uniform.rate(D) - float(uniform_hamming_rd(D, 16))) for D in np.linspace(0, 1, 11)]
    ok &= max(errors) <= RATE_TOL
    print(f"16 symbols, {len(first) + len(later)} points: first solve of a problem (compiles) median {statistics.median(first):.3f} s, "
          f"max {max(first):.3f} s; later solves median {statistics.median(later):.3f} s, max {max(later):.3f} s  [target < 1 s]")
    print(f"  largest duality gap {max(gaps):.2e} bits; uniform 16-ary source vs log m − Hb(D) − D log(m − 1): largest error {max(errors):.2e} bits")
    return ok


def binary_grid(p: float, n: int) -> bool:
    problem = RDPProblem([1 - p, p], hamming(2), "tv")
    Ds = np.linspace(0.0, 2 * p * (1 - p) * 1.05, n)
    Ps = np.linspace(0.0, 1.2 * p, n)
    start = time.perf_counter()
    rates = problem.grid(Ds, Ps, progress=False)
    seconds = time.perf_counter() - start
    error = float(np.abs(rates - bernoulli_rdp(Ds[None, :], Ps[:, None], p)).max())
    closed_start = time.perf_counter()
    bernoulli_rdp(Ds[None, :], Ps[:, None], p)
    closed = time.perf_counter() - closed_start
    print(f"binary source Bern({p:g}), {n}×{n} grid: {seconds:.1f} s ({seconds / n**2 * 1e3:.1f} ms a point) [target < 60 s]; "
          f"closed form {closed * 1e3:.2f} ms; largest |solver − closed form| {error:.2e} bits [tolerance {RATE_TOL:g}]")
    return error <= RATE_TOL and math.isfinite(error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--grid", type=int, default=50)
    parser.add_argument("--sources", type=int, default=4, help="random 16-symbol sources")
    args = parser.parse_args()
    ok = sixteen_symbols(args.sources)
    ok &= binary_grid(args.p, args.grid)
    print("all rates agree with their closed forms" if ok else "MISMATCH or failure: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
