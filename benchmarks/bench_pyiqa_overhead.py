"""rdpkit-pyiqa's wrapper against pyiqa called directly, on the same inputs, in one run.

For each metric: the fastest of interleaved calls of `rdpkit.distortion("pyiqa-<name>")(x, x_hat)` and of
pyiqa computing the same quantity directly, their ratio, and a check that the values agree.
The direct call is `pyiqa.create_metric(name)(x_hat, x)`; for metrics with the offset
transform (psnr, vif: Δ = score(x, x) − score(x, x̂)) it is that call and `(x, x)`'s, as a
user would write it (the wrapper makes one call on the batch of both pairs instead).
Target: the wrapper adds less than 5% (ratio < 1.05).

    python benchmarks/bench_pyiqa_overhead.py [--size 256] [--batch 4] [--repeats 15]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from collections.abc import Callable

import torch

import rdpkit
from rdpkit.data import load_image
from rdpkit.degrade import degrade

METRICS = ("ssim", "psnr", "gmsd", "fsim", "vif", "ms_ssim")


def best_times(a: Callable[[], torch.Tensor], b: Callable[[], torch.Tensor], repeats: int) -> tuple[float, float]:
    """Fastest of `repeats` calls of each, interleaved so that a busy machine slows both alike."""
    a(), b()  # warm-up: first-call allocations and caches
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return min(ta), min(tb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    import pyiqa
    from rdpkit_pyiqa import catalog

    x = load_image("builtin:astronaut", size=args.size).reshape(1, 3, args.size, args.size).repeat(args.batch, 1, 1, 1)
    x_hat = degrade(x, "jpeg:20", seed=0)
    print(f"{args.batch}×3×{args.size}×{args.size} images, fastest of {args.repeats} interleaved calls, torch threads {torch.get_num_threads()}")
    print(f"{'metric':10s} {'pyiqa (ms)':>11s} {'rdpkit (ms)':>12s} {'ratio':>7s}  values agree")
    worst = 0.0
    with torch.no_grad():
        for name in METRICS:
            with contextlib.redirect_stdout(io.StringIO()):
                direct = pyiqa.create_metric(name, device="cpu")
            wrapped = rdpkit.distortion(catalog.rdpkit_name(name))
            entry = catalog.entry(name)
            def same_quantity() -> torch.Tensor:
                score = direct(x_hat, x).flatten()
                if entry.transform == "offset":
                    return (direct(x, x).flatten() - score).clamp_min(0)
                return (1 - score).clamp_min(0) if entry.transform == "one-minus" else score
            want = same_quantity()
            got = wrapped(x, x_hat)
            agree = torch.allclose(got.double(), want.double(), rtol=1e-5, atol=1e-5)
            t_direct, t_wrapped = best_times(same_quantity, lambda: wrapped(x, x_hat), args.repeats)
            ratio = t_wrapped / t_direct
            worst = max(worst, ratio)
            print(f"{name:10s} {1e3 * t_direct:11.2f} {1e3 * t_wrapped:12.2f} {ratio:7.3f}  {'yes' if agree else 'NO'}")
            if not agree:
                raise SystemExit(f"{name}: rdpkit {got.tolist()} differs from pyiqa {want.tolist()}")
    print(f"worst ratio: {worst:.3f} ({'within' if worst < 1.05 else 'ABOVE'} the 5% target)")


if __name__ == "__main__":
    main()
