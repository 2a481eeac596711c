"""SSIM and MS-SSIM: rdpkit against scikit-image, pytorch_msssim, torchmetrics and pyiqa.

Every implementation runs on the same batch in this one process (scikit-image's astronaut
resized to SIZE, repeated BATCH times, plus Gaussian noise σ = 0.1 drawn per image), timed as
the best of REPEATS calls after one warm-up call (which for rdpkit includes numba's
compilation, or loading it from the cache; that first call is printed too). For each section
the script prints every time, rdpkit's speed-up over the fastest peer and the largest
per-image difference from each peer; it exits with status 1 when a peer that uses the same
convention disagrees by more than 1e-4 (values) or 1e-3 relative to the largest gradient
entry (gradients), never because of speed.

torchmetrics averages an SSIM map computed over a reflect-padded image; the benchmark crops
that map to the 'valid' region (torchmetrics' own `return_full_image` output) so that it
compares like with like. pyiqa's `ssimc` keeps its own convention (pixels rounded to 8-bit levels, float64, negative
contrast-structure values clipped per pixel), so its difference is printed but not checked.

    .venv/bin/python benchmarks/bench_ssim.py [--batch 8] [--size 512] [--repeats 3]
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

from rdpkit.data import load_image
from rdpkit.degrade import degrade
from rdpkit.ssim import ms_ssim, ssim

VALUE_TOL = 1e-4
SLOW = 10.0
# Relative to the largest entry of rdpkit's gradient. In float32 every implementation's
# gradient carries rounding of order 1e-4 of that entry (flat regions divide by ≈ C2);
# in float64 torchmetrics and rdpkit agree to 1e-13.
GRAD_TOL = 1e-3


def best_time(fn: Callable[[], torch.Tensor], repeats: int) -> tuple[float, float, torch.Tensor]:
    """(first call, best of `repeats` later calls) in seconds, and the last result.

    An implementation whose first call takes longer than SLOW seconds is timed once more
    only, which keeps a run within minutes.
    """
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats if first < SLOW else 1):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, min(times), out


def with_grad(metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A call of `metric` followed by backward to the distorted batch; returns the gradient."""

    def run() -> torch.Tensor:
        yg = y.clone().requires_grad_(True)
        metric(x, yg).sum().backward()
        return yg.grad

    return run


def skimage_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from skimage.metrics import structural_similarity

    xs, ys = x.permute(0, 2, 3, 1).numpy(), y.permute(0, 2, 3, 1).numpy()
    return torch.tensor([
        structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2)
        for a, b in zip(xs, ys)
    ])


def peers_ssim() -> dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], bool, bool]]:
    """name → (metric, differentiable, same convention as rdpkit)."""
    import pytorch_msssim
    from torchmetrics.functional.image import structural_similarity_index_measure

    def torchmetrics_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # torchmetrics reflect-pads and averages the whole map; its map cropped by the
        # window's radius is the standard 'valid' one.
        _, full = structural_similarity_index_measure(
            b, a, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0, reduction="none", return_full_image=True
        )
        return full[..., 5:-5, 5:-5].mean(dim=(1, 2, 3))

    peers = {
        "scikit-image": (skimage_ssim, False, True),
        "pytorch_msssim": (lambda a, b: pytorch_msssim.ssim(a, b, data_range=1.0, size_average=False), True, True),
        "torchmetrics": (torchmetrics_ssim, True, True),
    }
    try:  # pyiqa is PolyForm Noncommercial: present only where rdpkit-pyiqa is installed
        import pyiqa
    except ImportError:
        print("pyiqa is not installed (it comes with plugins/rdpkit-pyiqa, PolyForm Noncommercial): left out")
        return peers
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iqa = pyiqa.create_metric("ssimc", device="cpu", as_loss=True)
    peers["pyiqa (ssimc)"] = (lambda a, b: iqa(b, a), True, False)
    return peers


def max_diff(a: torch.Tensor, b: torch.Tensor, relative: bool = False) -> float:
    d = float((a.double().flatten() - b.double().flatten()).abs().max())
    return d / float(b.abs().max()) if relative else d


def report(title: str, ours: tuple[float, float], peers: dict[str, tuple[float, float, float, bool]], unit: str) -> bool:
    """Print one section; `peers` maps name → (first, best, max diff, checked). True if all checked agree."""
    print(f"\n{title}")
    print(f"  {'implementation':<18}{'first call':>12}{'best':>10}{'max |diff|' + (' (relative)' if unit == 'gradient' else ''):>26}")
    print(f"  {'rdpkit':<18}{ours[0]:>11.3f}s{ours[1]:>9.3f}s{'':>26}")
    ok = True
    for name, (first, best, diff, checked) in peers.items():
        bad = checked and not diff <= (VALUE_TOL if unit == "value" else GRAD_TOL)
        ok &= not bad
        note = "  DISAGREES" if bad else ("" if checked else "  (other convention, not checked)")
        print(f"  {name:<18}{first:>11.3f}s{best:>9.3f}s{diff:>26.2e}{note}")
    fastest = min(peers, key=lambda n: peers[n][1])
    print(f"  rdpkit is {peers[fastest][1] / ours[1]:.1f}× faster than the fastest peer ({fastest}, {peers[fastest][1]:.3f}s)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    x = load_image("builtin:astronaut", size=args.size).expand(args.batch, -1, -1, -1).contiguous()
    y = degrade(x, "gaussian:0.1", seed=0)
    print(f"{args.batch}×{tuple(x.shape[1:])} float32 on the CPU, {torch.get_num_threads()} threads, best of {args.repeats}")
    peers = peers_ssim()
    ok = True

    first, best, ref = best_time(lambda: ssim(x, y), args.repeats)
    rows = {}
    for name, (metric, _, checked) in peers.items():
        f, b, val = best_time(lambda: metric(x, y), args.repeats)
        rows[name] = (f, b, max_diff(val, ref), checked)
    ok &= report("SSIM forward", (first, best), rows, "value")

    first, best, ref_grad = best_time(with_grad(ssim, x, y), args.repeats)
    rows = {}
    for name, (metric, differentiable, checked) in peers.items():
        if differentiable:
            f, b, grad = best_time(with_grad(metric, x, y), args.repeats)
            rows[name] = (f, b, max_diff(grad, ref_grad, relative=True), checked)
    ok &= report("SSIM forward + backward (gradient w.r.t. the distorted batch)", (first, best), rows, "gradient")

    import pytorch_msssim

    def peer_ms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return pytorch_msssim.ms_ssim(a, b, data_range=1.0, size_average=False)

    first, best, ref = best_time(lambda: ms_ssim(x, y), args.repeats)
    f, b, val = best_time(lambda: peer_ms(x, y), args.repeats)
    ok &= report("MS-SSIM forward", (first, best), {"pytorch_msssim": (f, b, max_diff(val, ref), True)}, "value")
    first, best, ref_grad = best_time(with_grad(ms_ssim, x, y), args.repeats)
    f, b, grad = best_time(with_grad(peer_ms, x, y), args.repeats)
    ok &= report("MS-SSIM forward + backward", (first, best), {"pytorch_msssim": (f, b, max_diff(grad, ref_grad, relative=True), True)}, "gradient")

    print("\nvalues and gradients agree" if ok else "\nFAILED: a peer with the same convention disagrees beyond tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
