"""Agreement statistics with cluster-bootstrap intervals: rdpkit against a plain resampling loop.

On a TID2013-sized set (3,000 distorted images of 25 references, 24 distortion types) and a
KonIQ-sized no-reference set (10,000 images, each its own group), one metric:

* ``agreement`` with 1,000 replicates of every statistic (SRCC, KRCC, PLCC, and PLCC and
  RMSE after the logistic, refitted in each replicate);
* the same intervals of SRCC, KRCC and PLCC from the plain loop everyone writes (concatenate
  the resampled groups, call scipy), on the very same draws: the intervals must agree to
  1e-10, or the script exits with status 1 (never because of speed);
* ``agreement_by_type`` (24 types) with 1,000 replicates.

    .venv/bin/python benchmarks/bench_judge_statistics.py [--boot 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from scipy import stats

from rdpkit.judge.statistics import agreement, agreement_by_type

CHEAP = ("srcc", "krcc", "plcc")
T = TypeVar("T")


def plain_loop(x: np.ndarray, y: np.ndarray, refs: np.ndarray, n_boot: int, seed: int) -> dict[str, tuple]:
    """Percentile intervals from explicit resampling of reference groups, scipy per replicate."""
    n_groups = int(refs.max()) + 1
    members = [np.flatnonzero(refs == g) for g in range(n_groups)]
    draws = np.random.default_rng(seed).multinomial(n_groups, np.full(n_groups, 1 / n_groups), size=n_boot)
    reps: dict[str, list[float]] = {k: [] for k in CHEAP}
    for counts in draws:
        take = np.concatenate([np.tile(members[g], c) for g, c in enumerate(counts) if c])
        a, b = x[take], y[take]
        reps["srcc"].append(stats.spearmanr(a, b).statistic)
        reps["krcc"].append(stats.kendalltau(a, b).statistic)
        reps["plcc"].append(stats.pearsonr(a, b).statistic)
    return {k: tuple(np.quantile(v, [0.025, 0.975])) for k, v in reps.items()}


def timed(label: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """call(*args, **kwargs), printing its wall time."""
    start = time.perf_counter()
    out = call(*args, **kwargs)
    print(f"{label:<58} {time.perf_counter() - start:7.2f} s")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ok = True
    for name, n, n_refs in (("TID2013-sized", 3000, 25), ("KonIQ-sized (no reference)", 10_000, 10_000)):
        refs = np.repeat(np.arange(n_refs), n // n_refs)
        mos = rng.uniform(0, 9, n) + rng.normal(0, 1, n_refs)[refs]
        scores = -np.log1p(mos.clip(0)) + rng.normal(0, 0.2, n)  # a distortion: lower is better
        common = {"higher_is_better": False, "groups": refs, "n_boot": args.boot}
        print(f"{name}: {n} items, {n_refs} groups, {args.boot} replicates")
        timed("  agreement, every statistic", agreement, scores, mos, **common)
        fast = timed("  agreement, SRCC/KRCC/PLCC intervals", agreement, scores, mos, **common, intervals_for=CHEAP)
        plain = timed(
            "  plain loop (scipy per replicate), SRCC/KRCC/PLCC", plain_loop, -scores, mos, refs, args.boot, 0
        )
        for k in CHEAP:
            if not np.allclose(fast.intervals[k], plain[k], atol=1e-10):
                print(f"  MISMATCH {k}: {fast.intervals[k]} vs {plain[k]}")
                ok = False
        if n_refs < n:
            types = np.tile(np.arange(24), n // 24 + 1)[:n]
            timed("  agreement_by_type (24 types), every statistic", agreement_by_type, scores, mos, types, **common)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
