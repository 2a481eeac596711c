"""`rdpkit judge`'s scoring throughput against pyiqa scoring the same image pairs, in one run.

Part 1: N pairs of 512×384 photographs (built-in photographs cropped, JPEG at quality 20 as
the distorted image, written as PNG files as a dataset holds them) scored from their files by
the judge's trial (`rdpkit.judge.trial.JudgeTrial.run`: read, measure, next) and by pyiqa's
metrics called on the same file paths (pyiqa reads them itself). Printed: image pairs per
second of each and their ratio, and how the values agree: PSNR exactly (rdpkit's MSE turned into
dB), SSIM and MS-SSIM by the rank correlation of the two implementations' scores over the pairs
(pyiqa's colour SSIM `ssimc` and MS-SSIM on RGB; their conventions differ from rdpkit's in
details — 8-bit rounding, clipping — so the order, not the number, is compared), LPIPS with a random backbone for rdpkit only (pyiqa's LPIPS needs weights that
cannot be downloaded here). pyiqa is PolyForm Noncommercial: its columns appear only where
rdpkit-pyiqa is installed.

Part 2: the whole TID2013-sized fixture (3,000 distorted images of 25 references, every file
name of the real label file, 192×192 so that MS-SSIM applies) with SSIM and MS-SSIM through
`rdpkit judge` on the local pool: the wall time (target: under 5 minutes on a 2-core CPU).

    .venv/bin/python benchmarks/bench_judge.py [--pairs 24] [--no-fixture]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from scipy.stats import spearmanr

from rdpkit.data import load_image, save_png
from rdpkit.degrade import degrade
from rdpkit.options import Component
from rdpkit.registry import get_registry

PHOTOS = ("astronaut", "coffee", "rocket", "china", "flower")
HEIGHT, WIDTH = 384, 512
#: rdpkit metric → the pyiqa metric computing the same quantity (None: not comparable here).
METRICS = {"mse": ("psnr", {}), "ssim": ("ssimc", {}), "ms-ssim": ("ms_ssim", {"test_y_channel": False}),
           "lpips-alex,pretrained=false": None}


def pairs(folder: Path, n: int) -> list[tuple[str, str]]:
    """`n` (distorted, reference) PNG pairs of 384×512 crops."""
    out = []
    for i in range(n):
        x = load_image(f"builtin:{PHOTOS[i % len(PHOTOS)]}")
        top, left = (x.shape[-2] - HEIGHT) // 2 + i // len(PHOTOS), (x.shape[-1] - WIDTH) // 2
        x = x[..., top : top + HEIGHT, left : left + WIDTH]
        ref, dist = folder / f"ref{i:03d}.png", folder / f"dist{i:03d}.png"
        save_png(x, ref)
        save_png(degrade(x, f"jpeg:{10 + 5 * (i % 8)}", seed=i), dist)
        out.append((str(dist), str(ref)))
    return out


def rdpkit_scores(metric: str, items: list[tuple[str, str]]) -> tuple[float, list[float]]:
    from rdpkit.judge.trial import JudgeTrial

    trial = JudgeTrial(Component.parse(metric), "distortion", "bench", 0, tuple(items), "cpu")
    registry = get_registry()
    trial.run("cpu", registry)  # warm-up: first-call allocations, numba caches
    start = time.perf_counter()
    result = trial.run("cpu", registry)
    assert not result.errors, result.errors
    return time.perf_counter() - start, [float(s) for s in result.scores]  # type: ignore[arg-type]


def pyiqa_scores(name: str, options: dict, items: list[tuple[str, str]]) -> tuple[float, list[float]] | None:
    try:
        import pyiqa
    except ImportError:
        return None
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = pyiqa.create_metric(name, device="cpu", **options)
    with torch.no_grad():
        metric(items[0][0], items[0][1])
        start = time.perf_counter()
        scores = [float(metric(dist, ref)) for dist, ref in items]
    return time.perf_counter() - start, scores


def part1(n: int) -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        items = pairs(Path(tmp), n)
        print(f"part 1: {n} pairs of {WIDTH}×{HEIGHT} PNG files, torch threads {torch.get_num_threads()}")
        print(f"  {'metric':30s}{'rdpkit pairs/s':>15s}{'pyiqa pairs/s':>15s}{'ratio':>8s}  values")
        for metric, peer in METRICS.items():
            seconds, ours = rdpkit_scores(metric, items)
            theirs = pyiqa_scores(*peer, items) if peer else None
            if theirs is None:
                print(f"  {metric:30s}{n / seconds:>15.1f}{'—':>15s}{'':>8s}  {'no peer here' if peer else 'pyiqa needs weights: not compared'}")
                continue
            if metric == "mse":
                diff = max(abs(-10 * math.log10(m) - p) for m, p in zip(ours, theirs[1]))
                agree, text = diff < 1e-3, f"PSNR max |diff| {diff:.2e} dB"
            else:
                rho = float(spearmanr(ours, [-v for v in theirs[1]]).statistic)  # pyiqa: higher is better; rdpkit: 1 − index
                agree, text = rho > 0.98, f"rank correlation {rho:.4f}"
            ok &= agree
            print(f"  {metric:30s}{n / seconds:>15.1f}{n / theirs[0]:>15.1f}{theirs[0] / seconds:>8.2f}  {text}{'' if agree else '  DISAGREE'}")
    return ok


def part2() -> None:
    from rdpkit.judge import make_fixture
    from rdpkit.judge.run import judge

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        folder = make_fixture("tid2013", Path(tmp) / "tid", size=192)
        made = time.perf_counter() - start
        start = time.perf_counter()
        judgement = judge(["ssim", "ms-ssim"], [f"tid2013:{folder}"], store=Path(tmp) / "j.sqlite", progress=False)
        seconds = time.perf_counter() - start
        scored = sum(1 for s in judgement.scored.values() for v in s.scores if v is not None)
        print(f"\npart 2: TID2013-sized fixture (3,000 pairs, 192×192) written in {made:.1f} s; rdpkit judge with ssim and ms-ssim "
              f"on the local pool: {seconds:.1f} s for {scored} scores ({scored / seconds:.0f} per second; target 300 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--no-fixture", action="store_true", help="Skip part 2.")
    args = parser.parse_args()
    ok = part1(args.pairs)
    if not args.no_fixture:
        part2()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
