"""The evaluation protocol's speed: `rdpkit evaluate` on a Kodak-sized set, and patch FID/KID against torchmetrics.

    .venv/bin/python benchmarks/bench_evaluate.py                  # both parts
    .venv/bin/python benchmarks/bench_evaluate.py --part evaluate  # JPEG × 6 qualities on 24 images of 768×512

1. `rdpkit evaluate` of JPEG at six qualities on 24 images of 768×512 (Kodak's size; crops and
   flips of the built-in photographs, written as PNG files), with PSNR and MS-SSIM and no deep
   metric or FID, through a fresh store on the local pool: the wall time (target: under three
   minutes on a 2-core CPU), and the same run again, which must find every setting done.
2. FID and KID on the 256×256 patches of those images against JPEG at quality 10, on one
   feature extractor and batch: rdpkit (rdpkit.patches, the extractor, `frechet` and `kid`)
   against torchmetrics' FrechetInceptionDistance and KernelInceptionDistance given the same
   extractor as their `feature` module. The values must agree to 1e-3 relative (KID with one
   subset holding every patch); the script prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

import rdpkit
from rdpkit.data import TRAINING, load_image, save_png
from rdpkit.evaluate import evaluate
from rdpkit.patches import patches

QUALITIES = [5, 10, 20, 40, 60, 80]


def kodak_like(folder: Path, count: int = 24) -> list[Path]:
    """`count` PNG files of 768×512: the built-in photographs, scaled to cover, cropped at three places, flipped."""
    names = [*TRAINING, "astronaut", "coffee", "china"]
    files = []
    for i in range(count):
        x = load_image(f"builtin:{names[i % len(names)]}", size=(512 + 64 * (i // len(names)), 768 + 96 * (i // len(names))))
        x = x[..., : 512, : 768]
        if i % 2:
            x = x.flip(-1)
        files.append(save_png(x, folder / f"img{i + 1:02d}.png"))
    return files


def part_evaluate(folder: Path, workers: int | None) -> bool:
    store = folder / "evaluate.sqlite"
    start = time.perf_counter()
    ev = evaluate([f"jpeg,quality={QUALITIES}"], str(folder / "images"), distortions=["ms-ssim"], features=None, store=store,
                  executor="local", workers=workers, progress=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = evaluate([f"jpeg,quality={QUALITIES}"], str(folder / "images"), distortions=["ms-ssim"], features=None, store=store, progress=False)
    second = time.perf_counter() - start
    points = sorted((r.summary() for _, r in ev.curves["jpeg"]), key=lambda s: s["bpp"])
    print(f"evaluate: JPEG at {len(QUALITIES)} qualities on 24 images of 768×512 (PSNR, MS-SSIM): {first:.1f} s "
          f"({'within' if first < 180 else 'outside'} the 3-minute target); resumed run {second:.1f} s, {again.summary.ran} setting(s) run again")
    for s in points:
        print(f"  {s['bpp']:.3f} bpp  PSNR {s['psnr-rgb']:.2f} dB  MS-SSIM {s['ms-ssim-rgb']:.4f}  encode {1e3 * s['encoding_time']:.1f} ms  decode {1e3 * s['decoding_time']:.1f} ms per image")
    return again.summary.ran == 0


class Features(torch.nn.Module):
    """An rdpkit extractor as torchmetrics' `feature` module (torchmetrics passes uint8 images; the extractor takes [0, 1])."""

    def __init__(self, extractor: torch.nn.Module, dim: int) -> None:
        super().__init__()
        self.extractor, self.num_features = extractor, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extractor.features(x.double() / 255 if x.dtype == torch.uint8 else x.double())


def part_patches(folder: Path, extractor_name: str) -> bool:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    images = [load_image(p) for p in sorted((folder / "images").glob("*.png"))]
    jpeg = rdpkit.codec("jpeg", quality=10)
    decoded = [jpeg.decode(jpeg.encode(x).to_bytes()) for x in images]
    extractor = rdpkit.features(extractor_name)
    real, fake = torch.cat([patches(x) for x in images]).double(), torch.cat([patches(y) for y in decoded]).double()
    start = time.perf_counter()
    fr = torch.cat([extractor.features(real[i : i + 32]) for i in range(0, len(real), 32)])
    ff = torch.cat([extractor.features(fake[i : i + 32]) for i in range(0, len(fake), 32)])
    fid = rdpkit.divergence("frechet").estimate(fr, ff).value
    kid = rdpkit.divergence("kid", subsets=1, subset_size=len(real)).estimate(fr, ff).value
    ours = time.perf_counter() - start
    dim = fr.shape[1]
    start = time.perf_counter()
    tm_fid = FrechetInceptionDistance(feature=Features(extractor, dim), normalize=False).double()
    tm_kid = KernelInceptionDistance(feature=Features(extractor, dim), subsets=1, subset_size=len(real), normalize=False).double()
    for i in range(0, len(real), 32):
        for metric in (tm_fid, tm_kid):
            metric.update((real[i : i + 32] * 255).round().to(torch.uint8), real=True)
            metric.update((fake[i : i + 32] * 255).round().to(torch.uint8), real=False)
    theirs_fid, theirs_kid = float(tm_fid.compute()), float(tm_kid.compute()[0])
    theirs = time.perf_counter() - start
    # torchmetrics keeps KID's features in float32, rdpkit in float64: they agree to about 1e-4 relative.
    agree = abs(fid - theirs_fid) <= 1e-3 * abs(theirs_fid) and abs(kid - theirs_kid) <= 1e-3 * max(abs(theirs_kid), 1e-12)
    print(f"patch FID/KID on {len(real)} patches of 256×256, features {extractor_name} ({extractor.feature_kind}, {dim}-D), JPEG q10:")
    print(f"  rdpkit       FID {fid:.6g}  KID {kid:.6g}  {ours:.2f} s")
    print(f"  torchmetrics FID {theirs_fid:.6g}  KID {theirs_kid:.6g}  {theirs:.2f} s (the extractor runs twice per batch, once per metric)")
    print(f"  values agree: {agree}; time ratio torchmetrics / rdpkit = {theirs / ours:.2f}")
    return agree


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "evaluate", "patches"], default="all")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--features", default="nss", help="the feature extractor of part 2 (rdpkit list features)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
    ok = True
    try:
        kodak_like(folder / "images")
        if args.part in ("all", "evaluate"):
            ok &= part_evaluate(folder, args.workers)
        if args.part in ("all", "patches"):
            ok &= part_patches(folder, args.features)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
