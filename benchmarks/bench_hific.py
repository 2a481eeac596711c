"""The hific codec (plugins/rdpkit-learned-codecs): training steps per second with the discriminator's share, and
decoding time of a 768×512 image.

Part 1 trains the shipped pair's architecture (started from the shipped hyperprior at quality
1: N = 64, M = 96, the hyperprior's synthesis, a 3-layer patch discriminator of width 32;
batches of 4 random 128×128 crops; MSE; rate target) for STEPS steps after WARMUP steps, three
ways: λ_p = 0 (no discriminator), λ_p > 0, λ_p > 0 with the stochastic decoder. The
discriminator's share is 1 − (time of a λ_p = 0 step) / (time of a λ_p > 0 step): its own
update plus what the generator's adversarial term adds. On CUDA when present, again on the
GPU (with bfloat16 autocast, the training default there).

Part 2 codes one 768×512 image (scikit-image's astronaut, upscaled to cover 768×512, as
bench_learned_codecs.py does) with each shipped hific model, REPEATS times, and prints the
best encode and decode times, decode split into entropy decoding (`symbols`: integers only)
and the generator; the hyperprior it started from is timed beside it. Every decoded image
must come back at the shape given with a finite PSNR, or the script exits 1.

    .venv/bin/python benchmarks/bench_hific.py [--steps 60] [--warmup 10] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from rdpkit_learned_codecs.codecs.hific import HificCodec
from rdpkit_learned_codecs.models.zoo import DEFAULT_HIFIC_LAM_P, SHIPPED_HIFIC
from rdpkit_learned_codecs.training.crops import Crops
from rdpkit_learned_codecs.training.hific import (
    HificSchedule,
    make_distortion,
    new_run,
    run_identity,
    train,
)
from timing import best_time

import rdpkit
from rdpkit.data import load_image


def steps_per_second(lam_p: float, noise: float, device: torch.device, steps: int, warmup: int, amp: bool) -> float:
    codec = HificCodec(start="shipped", quality=1, lam_p=lam_p, noise=noise, target_bpp=0.2)
    crops = Crops.of("builtin:training")
    distortion = make_distortion(codec.hific.distortion, 128).to(device)
    run = new_run(codec.hific, codec._start, 0, device, HificSchedule(warmup + steps, 4, 128, amp=amp))
    expected = run_identity(codec.hific, codec._start, 0, HificSchedule(warmup + steps, 4, 128))
    train(run, crops, distortion, HificSchedule(warmup, 4, 128, amp=amp), expected=expected, checkpoint=None, resume=False, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    train(run, crops, distortion, HificSchedule(warmup + steps, 4, 128, amp=amp), expected=expected, checkpoint=None, resume=False, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def part1(steps: int, warmup: int) -> None:
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        amp = device.type == "cuda"
        plain = steps_per_second(0.0, 0.0, device, steps, warmup, amp)
        gan = steps_per_second(DEFAULT_HIFIC_LAM_P, 0.0, device, steps, warmup, amp)
        noisy = steps_per_second(DEFAULT_HIFIC_LAM_P, 0.5, device, steps, warmup, amp)
        where = f"{device.type}{' (bfloat16 autocast)' if amp else f', {torch.get_num_threads()} threads'}"
        print(f"training on {where}, batch 4 of 128×128:")
        print(f"  λ_p = 0 (no discriminator): {plain:6.2f} steps/s")
        print(f"  λ_p > 0:                    {gan:6.2f} steps/s  (discriminator's share {100 * (1 - gan / plain):.0f}%)")
        print(f"  λ_p > 0, stochastic decoder:{noisy:6.2f} steps/s  (discriminator's share {100 * (1 - noisy / plain):.0f}%)")


def part2(repeats: int) -> int:
    x = load_image("builtin:astronaut", size=(512, 768))
    status = 0
    codecs = {f"hific q={q} λ_p={lp:g}": HificCodec(quality=q, lam_p=lp) for q, lp in sorted(SHIPPED_HIFIC)}
    codecs.update({f"hyperprior q={q}": rdpkit.codec("hyperprior", quality=q) for q in sorted({q for q, _ in SHIPPED_HIFIC})})
    print(f"coding one {x.shape[-1]}×{x.shape[-2]} image on the CPU ({torch.get_num_threads()} threads), best of {repeats}:")
    for label, codec in codecs.items():
        t_enc, bits = best_time(lambda c=codec: c.encode(x), repeats)
        raw = bits.to_bytes()
        t_dec, y = best_time(lambda c=codec, r=raw: c.decode(r, seed=0), repeats)
        t_sym, _ = best_time(lambda c=codec, r=raw: c.symbols(r), repeats)
        psnr = float(rdpkit.psnr(x, y))
        if y.shape != x.shape or not psnr < float("inf"):
            print(f"  {label}: decoded {tuple(y.shape)} at {psnr} dB: wrong")
            status = 1
        print(f"  {label:24s} {8 * len(raw) / (x.shape[-1] * x.shape[-2]):.3f} bpp {psnr:5.2f} dB  encode {t_enc:.3f} s  "
              f"decode {t_dec:.3f} s (entropy decoding {t_sym:.3f} s, generator {t_dec - t_sym:.3f} s)")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    status = part2(args.repeats)
    part1(args.steps, args.warmup)
    return status


if __name__ == "__main__":
    sys.exit(main())
