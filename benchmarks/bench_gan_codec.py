"""Codecs: rdpkit's jpeg/webp/sq against Pillow and numpy directly, and gan training speed.

Part 1 codes built-in images (scikit-image's astronaut, coffee and camera at SIZE×SIZE) with
every rdpkit baseline and with its peer on the same pixels in this one process:

* jpeg, webp: Pillow directly (`Image.save` into a buffer, `Image.open` back). The encoded
  files must be byte-identical and the decoded pixels equal; the rate is reported from the
  real container bytes, beside Pillow's bare file size.
* sq: a numpy uniform quantiser (the peer for values) and zlib level 9 on the 8-bit indices
  (a peer lossless coder for rate). Indices must be equal and MSE agree to 1e-6 (relative);
  the rate is printed beside the empirical entropy of the left-neighbour residuals that sq
  codes (what an ideal static code of them would spend) and beside zlib.

Times are the best of REPEATS encode+decode round trips; the ratio is rdpkit's time over the
peer's (the container, CRC and per-image framing are rdpkit's overhead).

Part 2 trains the gan codec on the 8×8 digits (dim 2, L 4) for STEPS steps with λ = 0 and
λ > 0 and prints steps per second on the CPU (1 thread and torch's default) and on CUDA
when present. The script exits with status 1 when values disagree, never because of speed.

    .venv/bin/python benchmarks/bench_gan_codec.py [--size 256] [--repeats 3] [--steps 300]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zlib

import numpy as np
import torch
from PIL import Image
from timing import best_time

import rdpkit
from rdpkit.codecs.scalar import left_residuals
from rdpkit.data import digits, load_image, to_numpy

IMAGES = ("astronaut", "coffee", "camera")



def round_trip(codec: rdpkit.Codec, x: torch.Tensor) -> tuple[rdpkit.Bitstream, torch.Tensor]:
    bits = codec.encode(x)
    return bits, codec.decode(bits.to_bytes())


def zlib_round_trip(indices: np.ndarray) -> bytes:
    packed = zlib.compress(indices.tobytes(), 9)
    np.frombuffer(zlib.decompress(packed), np.uint8)
    return packed


def pillow_round_trip(x: torch.Tensor, fmt: str, options: dict) -> tuple[bytes, torch.Tensor]:
    buffer = io.BytesIO()
    Image.fromarray(to_numpy(x)).save(buffer, format=fmt, **options)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        a = np.array(im.convert("RGB" if x.shape[1] == 3 else "L"), dtype=np.uint8)
    a = a[:, :, None] if a.ndim == 2 else a
    return data, torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255


def bench_pillow_codecs(images: dict[str, torch.Tensor], repeats: int) -> bool:
    ok = True
    cases = [("jpeg", {"quality": 30}, "JPEG", {"quality": 30, "subsampling": "4:2:0", "optimize": False}),
             ("jpeg", {"quality": 85}, "JPEG", {"quality": 85, "subsampling": "4:2:0", "optimize": False}),
             ("webp", {"quality": 50}, "WEBP", {"quality": 50, "lossless": False, "method": 4, "exact": True}),
             ("webp", {"lossless": True}, "WEBP", {"quality": 80, "lossless": True, "method": 4, "exact": True})]
    print(f"{'codec':<22}{'image':<11}{'bpp':>7}{'Pillow bpp':>11}{'PSNR dB':>9}{'rdpkit ms':>11}{'Pillow ms':>11}{'ratio':>7}  agree")
    for name, options, fmt, pil_options in cases:
        codec = rdpkit.codec(name, **options)
        for image, x in images.items():
            t_rd, (bits, y) = best_time(lambda codec=codec, x=x: round_trip(codec, x), repeats)  # type: ignore[misc]
            t_pil, (data, y_pil) = best_time(lambda x=x, fmt=fmt, o=pil_options: pillow_round_trip(x, fmt, o), repeats)  # type: ignore[misc]
            same = bits.payload[4:] == data and torch.equal(y, y_pil)
            ok &= same
            n_pix = x.shape[-1] * x.shape[-2]
            psnr = float(rdpkit.psnr(x, y)[0])
            label = f"{name} {','.join(f'{k}={v}' for k, v in options.items())}"
            print(f"{label:<22}{image:<11}{bits.bpp:>7.3f}{8 * len(data) / n_pix:>11.3f}{psnr:>9.2f}{1e3 * t_rd:>11.2f}{1e3 * t_pil:>11.2f}{t_rd / t_pil:>7.2f}  {'yes' if same else 'NO'}")
    return ok


def bench_sq(images: dict[str, torch.Tensor], repeats: int) -> bool:
    ok = True
    print(f"\n{'codec':<22}{'image':<11}{'bpp':>7}{'H bpp':>7}{'zlib bpp':>9}{'MSE':>10}{'rdpkit ms':>11}{'zlib ms':>9}{'ratio':>7}  agree")
    for levels in (8, 64):
        codec = rdpkit.codec("sq", levels=levels)
        for image, x in images.items():
            t_rd, (bits, y) = best_time(lambda codec=codec, x=x: round_trip(codec, x), repeats)  # type: ignore[misc]
            a = x.double().numpy()
            idx = np.rint(np.clip(a, 0, 1) * (levels - 1)).astype(np.uint8)
            ref_mse = float(np.mean((idx / (levels - 1) - a) ** 2))
            t_z, packed = best_time(lambda idx=idx: zlib_round_trip(idx), repeats)  # type: ignore[misc]
            counts = np.bincount(left_residuals(idx.astype(np.int64), levels).ravel(), minlength=levels)
            p = counts[counts > 0] / idx.size
            n_pix = x.shape[-1] * x.shape[-2]
            entropy_bpp = float(-(counts[counts > 0] * np.log2(p)).sum()) / n_pix
            mse = float((y.double() - x.double()).pow(2).mean())
            same = np.array_equal(codec.indices(x).numpy(), idx) and abs(mse - ref_mse) <= 1e-6 * ref_mse
            ok &= same
            print(f"{'sq levels=' + str(levels):<22}{image:<11}{bits.bpp:>7.3f}{entropy_bpp:>7.3f}{8 * len(packed) / n_pix:>9.3f}{mse:>10.2e}{1e3 * t_rd:>11.2f}{1e3 * t_z:>9.2f}{t_rd / t_z:>7.2f}  {'yes' if same else 'NO'}")
    return ok


def bench_training(steps: int) -> None:
    from rdpkit_gan_codec.codec import GanCodec

    data = digits()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    default_threads = torch.get_num_threads()
    print(f"\ngan codec training on {data.shape[0]} digits 1×8×8, dim 2, L 4, batch 64, {steps} steps")
    print(f"{'device':<18}{'λ':>6}{'steps/s':>10}{'final distortion':>18}")
    for device in devices:
        for threads in ([1, default_threads] if device == "cpu" else [default_threads]):
            torch.set_num_threads(threads)
            for lam in (0.0, 0.1):
                codec = GanCodec(dim=2, levels=4, lam=lam)
                codec.fit(data, steps=10, device=device, progress=False)  # warm-up: allocations, kernels
                t0 = time.perf_counter()
                codec.fit(data, steps=steps, device=device, progress=False)
                if device == "cuda":
                    torch.cuda.synchronize()
                rate = steps / (time.perf_counter() - t0)
                label = f"{device} ({threads} thr)" if device == "cpu" else device
                print(f"{label:<18}{lam:>6g}{rate:>10.1f}{codec.history[-1]['distortion']:>18.4f}")
    torch.set_num_threads(default_threads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    images = {name: load_image(f"builtin:{name}", size=args.size) for name in IMAGES}
    ok = bench_pillow_codecs(images, args.repeats)
    ok &= bench_sq(images, args.repeats)
    bench_training(args.steps)
    if not ok:
        print("\nFAILED: rdpkit and its peer disagree (see the 'agree' column).")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
