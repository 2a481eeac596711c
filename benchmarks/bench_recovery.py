"""Recovery iterations per second for MS-SSIM: rdpkit's loop against the same Adam loop on peers.

One reference (scikit-image's astronaut at SIZE×SIZE, RGB) and one white-noise start. Each
contender runs the loop of the recovery test (Adam, loss 1 − MS-SSIM summed over the batch,
backward, step, clamp to [0, 1]) at the `fast` profile's initial learning rate for STEPS steps,
after a run of WARMUP untimed ones, in this one process:

- rdpkit: `rdpkit.recovery.optimise` on `rdpkit.distortion("ms-ssim")`, timed whole (input
  validation, the batch-independence check, and the trajectory recorded at the first and last step);
- pytorch_msssim: `1 - pytorch_msssim.ms_ssim(x, y, data_range=1)`, the same convention as
  rdpkit (values checked to agree within 1e-4 at the start);
- pyiqa: `pyiqa.create_metric("ms_ssim", as_loss=True)`, pyiqa's own convention (luma of
  YIQ, float64), so its value is printed but not checked.

It prints iterations per second, rdpkit's ratio to the fastest peer (target ≥ 3×), and exits
with status 1 if a same-convention peer disagrees, never because of speed.

    .venv/bin/python benchmarks/bench_recovery.py [--size 256] [--steps 20] [--warmup 3] [--batch 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import warnings
from collections.abc import Callable

import torch

import rdpkit
from rdpkit.data import load_image
from rdpkit.degrade import degrade
from rdpkit.recovery.optimise import optimise
from rdpkit.recovery.profiles import PROFILES, Profile

VALUE_TOL = 1e-4
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def adam_loop(loss: Loss, x: torch.Tensor, y0: torch.Tensor, steps: int, lr: float) -> float:
    """Seconds for `steps` steps of the recovery loop written on `loss` (one value per image)."""
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss(x, y).sum().backward()
        opt.step()
        with torch.no_grad():
            y.clamp_(0, 1)
    return time.perf_counter() - t0


def rdpkit_loop(x: torch.Tensor, y0: torch.Tensor, steps: int, lr: float) -> float:
    d = rdpkit.distortion("ms-ssim")
    profile = Profile("bench", steps, lr, halve_every=steps, min_lr=lr)  # a constant rate, like the peers' loops
    t0 = time.perf_counter()
    optimise(d, x, y0, profile, stride=steps, progress=False)
    return time.perf_counter() - t0


def peers() -> dict[str, tuple[Loss, bool]]:
    """name → (loss, same convention as rdpkit)."""
    import pytorch_msssim

    out: dict[str, tuple[Loss, bool]] = {"pytorch_msssim": (lambda a, b: 1 - pytorch_msssim.ms_ssim(a, b, data_range=1.0, size_average=False), True)}
    try:  # pyiqa is PolyForm Noncommercial: present only where rdpkit-pyiqa is installed
        import pyiqa
    except ImportError:
        print("pyiqa is not installed (it comes with plugins/rdpkit-pyiqa, PolyForm Noncommercial): left out")
        return out
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iqa = pyiqa.create_metric("ms_ssim", device="cpu", as_loss=True)
    out["pyiqa (ms_ssim, luma, float64)"] = (lambda a, b: 1 - iqa(b, a).reshape(-1).to(a.dtype), False)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    lr = PROFILES["fast"].lr
    x = load_image("builtin:astronaut", size=args.size).repeat(args.batch, 1, 1, 1)
    y0 = degrade(x, "noise", seed=0)
    print(f"recovery loop, MS-SSIM, {args.batch}×3×{args.size}×{args.size} float32, {args.steps} timed steps "
          f"(after {args.warmup}), torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    reference = float(rdpkit.distortion("ms-ssim")(x, y0)[0])
    ok = True
    rates: dict[str, float] = {}
    rdpkit_loop(x, y0, args.warmup, lr)
    rates["rdpkit"] = args.steps / rdpkit_loop(x, y0, args.steps, lr)
    for name, (loss, same) in peers().items():
        with torch.no_grad():
            value = float(loss(x, y0)[0])
        diff = abs(value - reference)
        check = "same convention, checked" if same else "own convention, not checked"
        print(f"  {name}: 1 − MS-SSIM at the start {value:.6f} vs rdpkit {reference:.6f} (|diff| {diff:.2e}, {check})")
        if same and diff > VALUE_TOL:
            ok = False
        adam_loop(loss, x, y0, args.warmup, lr)
        rates[name] = args.steps / adam_loop(loss, x, y0, args.steps, lr)
    fastest = max((r, n) for n, r in rates.items() if n != "rdpkit")
    for name, rate in rates.items():
        print(f"  {name:34s} {rate:8.2f} it/s")
    ratio = rates["rdpkit"] / fastest[0]
    print(f"rdpkit / fastest peer ({fastest[1]}): {ratio:.2f}× (target ≥ 3×: {'met' if ratio >= 3 else 'NOT met'})")
    if not ok:
        print(f"FAIL: a same-convention peer disagrees with rdpkit by more than {VALUE_TOL}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
