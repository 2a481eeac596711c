"""Measure the smallest image side at which each weight-free pyiqa distortion gives usable values.

    python plugins/rdpkit-pyiqa/measure_min_size.py [--metrics ssim,gmsd,...]

pyiqa raises on some images that are too small, but gives NaN (gmsd at 2×2 and 3×3, fsim
at 1×1) or a value that ignores the damage (mad is 0.0 at 16×16 for σ = 0.2 noise) on
others. A side `s` passes when, for two photographs (astronaut, coffee) brought to s×s,
s×(s+7) and (s+7)×s (s×s only for the metrics the plugin takes square only, see
catalog.SQUARE_ONLY), the distortion

- runs without an error,
- gives Δ(x, x) finite and at most 1e-4 (the identity axiom), and
- gives Δ(x, y) finite and positive for y = x plus Gaussian noise of σ = 0.05 and σ = 0.2
  (clipped to [0, 1]).

Every side from 1 up to 24 past the first passing side is tried (up to 300 at most), and
then larger sides up to 256, so a metric that passes at one small side and fails at a
larger one is caught. The
minimum is the smallest side from which every side tried passes; rdpkit_pyiqa/catalog.py
records it in MIN_SIZE. Values are computed through the plugin's own wrapper (its
transform to a distortion), with its size check bypassed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import time

import torch
from rdpkit_pyiqa import catalog
from rdpkit_pyiqa.metric import build

from rdpkit.data import load_images

METRICS = ("ssim", "ssimc", "ms_ssim", "psnr", "psnry", "nlpd", "mad", "cw_ssim", "gmsd", "vif", "fsim", "vsi")
LARGER = (32, 48, 64, 96, 128, 161, 192, 256)
#: Where the scan of consecutive sides gives up: no weight-free metric needs more.
LAST_SIDE = 300
NOISE = (0.05, 0.2)


def _images(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The photographs, each noisy version's reference, and the noisy versions."""
    x = load_images(["builtin:astronaut", "builtin:coffee"], size=(h, w))
    g = torch.Generator().manual_seed(0)
    noisy = torch.cat([(x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1) for sigma in NOISE])
    return x, x.repeat(len(NOISE), 1, 1, 1), noisy


def failure(d: torch.nn.Module, side: int) -> str:
    """Why side `side` does not work for distortion `d`, or '' when it does."""
    shapes = [(side, side)] if d.entry.square_only else [(side, side), (side, side + 7), (side + 7, side)]
    for h, w in shapes:
        x, refs, noisy = _images(h, w)
        try:
            with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
                same, value = d._distance(x, x), d._distance(refs, noisy)
        except Exception as exc:  # noqa: BLE001 (any error pyiqa raises means the side does not work)
            return f"{h}×{w}: {type(exc).__name__}"
        if not bool(torch.isfinite(same).all()) or float(same.abs().max()) > 1e-4:
            return f"{h}×{w}: Δ(x, x) = {same.tolist()}"
        if not bool(torch.isfinite(value).all()) or float(value.min()) <= 0:
            return f"{h}×{w}: Δ(x, y) = {value.tolist()}"
    return ""


def measure(pyiqa_name: str) -> tuple[int, dict[int, str]]:
    """(smallest side from which every side tried works, {failing side: why})."""
    d = build(catalog.entry(pyiqa_name))
    failures: dict[int, str] = {}
    side, first_ok = 1, 0
    while (not first_ok or side < first_ok + 24) and side <= LAST_SIDE:
        why = failure(d, side)
        if why:
            failures[side] = why
        elif not first_ok:
            first_ok = side
        side += 1
    for larger in LARGER:
        if larger >= side:
            why = failure(d, larger)
            if why:
                failures[larger] = why
    tried_max = max(side - 1, *LARGER)
    last_failure = max(failures, default=0)
    return (last_failure + 1 if last_failure < tried_max else math.inf), failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated pyiqa names")
    args = parser.parse_args()
    torch.set_num_threads(1)
    found = {}
    for name in args.metrics.split(","):
        started = time.perf_counter()
        found[name], failures = measure(name)
        shown = "; ".join(f"{s}: {why}" for s, why in list(failures.items())[-3:])
        print(f"{name:8s} min side {found[name]:>4}  ({time.perf_counter() - started:.0f} s; last failures: {shown or 'none'})", flush=True)
    print("MIN_SIZE =", {k: v for k, v in found.items()})


if __name__ == "__main__":
    main()
