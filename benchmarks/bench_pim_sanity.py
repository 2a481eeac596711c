"""Sanity benchmark of every registered distortion, PIM's acceptance test among them.

For each distortion of `rdpkit.available("distortion")`:

(a) severity ordering: for noise, blur, JPEG, contrast and shift at four severities each,
    the fraction of ordered pairs of severities the metric orders correctly (rdpkit_pim.sanity);
(b) shift versus noise: on how many images a 1-pixel shift is judged closer than Gaussian
    noise of the same MSE;
(c) the recovery test from white noise (rdpkit.recovery, the `fast` profile by default):
    recovered, blind spot or not converged.

Distortions that cannot be built offline (no pretrained weights on this machine) are
skipped with their one-sentence reason; lpips, when the rdpkit-lpips plugin is installed,
is built with a random backbone. chelsea and coffee are held out of rdpkit-pim's training
data, the other images are not.

    .venv/bin/python benchmarks/bench_pim_sanity.py                 # everything
    .venv/bin/python benchmarks/bench_pim_sanity.py --only pim mse ssim ms-ssim --json out.json
    .venv/bin/python benchmarks/bench_pim_sanity.py --recovery-for pim mse ssim ms-ssim lpips-alex
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

import rdpkit
from rdpkit.cli.output import console, table
from rdpkit.data import load_images
from rdpkit.errors import RdpkitError
from rdpkit_pim.sanity import LADDERS, ordering, shift_vs_noise

IMAGES = ("chelsea", "coffee", "astronaut", "camera", "rocket", "coins")
FIRST = ("pim", "mse", "ssim", "ms-ssim")


def build(name: str) -> Any:
    """The distortion, built without downloads: rdpkit-lpips's metrics get a random backbone."""
    if rdpkit.get_registry().info("distortion", name).distribution == "rdpkit-lpips":
        return rdpkit.distortion(name, pretrained=False)
    return rdpkit.distortion(name)


def evaluate(name: str, d: Any, images: Any, args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    order = ordering(d, images)
    pairs = shift_vs_noise(d, images)
    row: dict[str, Any] = {
        "ordering": {k: o.fraction for k, o in order.items()},
        "ordering_all": sum(o.correct for o in order.values()) / sum(o.pairs for o in order.values()),
        "shift_closer": sum(s < n for s, n in pairs),
        "shift_noise_values": pairs,
    }
    wanted = bool(args.recovery_steps) and (args.recovery_for is None or name in args.recovery_for)
    if wanted and d.info is not None and d.info.differentiable:
        from rdpkit.recovery import recover

        r = recover(d, f"builtin:{args.recovery_image}", "noise", size=args.size, steps=args.recovery_steps, seed=0)
        row["recovery"] = {"verdict": r.verdict.label, "reason": r.verdict.reason, "psnr": r.psnr, "ssim": r.ssim}
    else:
        row["recovery"] = {"verdict": "n/a", "reason": "not differentiable"} if wanted else {"verdict": "not run", "reason": "not asked for"}
    row["seconds"] = time.perf_counter() - start
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=192, help="image side (MS-SSIM needs 161 or more)")
    p.add_argument("--images", nargs="+", default=list(IMAGES), help="built-in image names")
    p.add_argument("--only", nargs="+", help="distortion names (default: every registered one)")
    p.add_argument("--recovery-steps", type=int, default=1000, help="steps of the recovery test (0: skip it)")
    p.add_argument("--recovery-image", default="coffee")
    p.add_argument("--recovery-for", nargs="+", help="run the recovery test only for these distortions (default: every differentiable one)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (1 is fastest on a shared, busy machine)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    names = args.only or sorted(rdpkit.available("distortion"), key=lambda n: (n not in FIRST, FIRST.index(n) if n in FIRST else 0, n))
    images = load_images([f"builtin:{n}" for n in args.images], size=args.size)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in names:
        try:
            d = build(name)
        except RdpkitError as exc:
            skipped[name] = str(exc)
            continue
        console.print(f"[dim]{name}…[/dim]")
        results[name] = evaluate(name, d, images, args)

    kinds = list(LADDERS)
    rows = [
        [name, *(f"{r['ordering'][k]:.2f}" for k in kinds), f"{r['ordering_all']:.3f}", f"{r['shift_closer']}/{len(args.images)}",
         r["recovery"]["verdict"], f"{r['seconds']:.0f}"]
        for name, r in results.items()
    ]
    table(f"(a) severity ordering, (b) 1-px shift closer than noise of equal MSE, (c) recovery from noise — {len(args.images)} images at {args.size}px",
          ["distortion", *kinds, "(a) all", "(b)", "(c) from noise", "s"], rows)
    for name, why in skipped.items():
        console.print(f"skipped {name}: {why}")
    if "pim" in results:
        r = results["pim"]
        checks = [("(a) ≥ 90% ordered", r["ordering_all"] >= 0.9), ("(b) on every image", r["shift_closer"] == len(args.images)),
                  ("(c) not a blind spot", r["recovery"]["verdict"] in ("recovered", "not converged"))]
        console.print("pim acceptance: " + ", ".join(f"{what} {'passed' if ok else 'FAILED'}" for what, ok in checks))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "images": args.images, "results": results, "skipped": skipped}, f, indent=1)


if __name__ == "__main__":
    main()
