"""Sweep throughput: trials per hour of a preset, and the Ray executor's wall time against the local pool's.

    .venv/bin/python benchmarks/bench_sweep.py                       # a quarter of the digits preset
    .venv/bin/python benchmarks/bench_sweep.py --fraction 1          # all of it
    .venv/bin/python benchmarks/bench_sweep.py --preset digits-smoke --report docs/images

The same sweep runs twice, into two fresh stores: on the local process pool and on a local
Ray cluster started for the run, with the same number of workers. It checks that both give
the same measurements (trials are deterministic under their seed), then prints trials per
hour of each and the ratio of wall times (target: Ray within 10 % of the pool). Ray's wall
time includes starting its cluster, as a user's run does.
"""

from __future__ import annotations

import argparse
import copy
import math
import shutil
import tempfile
import time
from pathlib import Path

import rdpkit
from rdpkit.store import Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.presets import presets
from rdpkit.sweep.runner import run_sweep, sweep_trials

MEASURED = ("rate", "distortions", "divergences", "perception")


def fraction_of(preset: str, fraction: float) -> SweepConfig:
    """The preset with its rate grid cut to the first `fraction` of its settings."""
    spec = copy.deepcopy(rdpkit.get_registry().sweep_preset(preset))
    for codec in spec["codec"]:
        for key, values in codec.get("grid", {}).items():
            if key == "dim":
                codec["grid"][key] = values[: max(1, math.ceil(fraction * len(values)))]
    return SweepConfig.from_dict(spec)


def timed(config: SweepConfig, store: Path, executor: str, workers: int) -> tuple[float, dict]:
    start = time.perf_counter()
    summary = run_sweep(config, store, executor=executor, workers=workers, progress=True)
    seconds = time.perf_counter() - start
    if summary.failed:
        with Store(store) as s:
            raise SystemExit(f"{summary.failed} trial(s) failed on {executor}: {s.trials(status='failed')[0].error}")
    with Store(store) as s:
        return seconds, {t.key: {m: t.result[m] for m in MEASURED} for t in s.trials()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits", choices=presets())
    parser.add_argument("--fraction", type=float, default=0.25, help="share of the preset's rate settings to run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--report", type=Path, help="write the local run's report here (figures for the README)")
    args = parser.parse_args()

    config = fraction_of(args.preset, args.fraction)
    n = len(sweep_trials(config))
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        runs = {}
        for executor in args.executors.split(","):
            runs[executor] = timed(config, folder / f"{executor}.sqlite", executor, args.workers)
            seconds = runs[executor][0]
            print(f"{executor:>5}: {n} trials of {args.preset} (fraction {args.fraction:g}) in {seconds:.1f} s "
                  f"with {args.workers} workers = {3600 * n / seconds:.0f} trials/hour")
        if {"local", "ray"} <= set(runs):
            same = runs["local"][1] == runs["ray"][1]
            ratio = runs["ray"][0] / runs["local"][0]
            print(f"same measurements on both executors: {same}")
            print(f"Ray / local wall time: {ratio:.3f} ({'within' if ratio <= 1.10 else 'outside'} the 10 % target)")
        if args.report:
            from rdpkit.sweep.report import write_report

            first = next(iter(runs))
            page = write_report(folder / f"{first}.sqlite", folder / "report")
            args.report.mkdir(parents=True, exist_ok=True)
            for png in (folder / "report").glob("sweep-*.png"):
                shutil.copy(png, args.report / png.name)
            print(f"figures of the {first} run ({page.name} and the CSV files are not kept) copied to {args.report}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
