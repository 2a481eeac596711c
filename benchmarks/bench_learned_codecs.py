"""Learned codecs (plugins/rdpkit-learned-codecs): coding time split into networks and entropy coding,
training speed, and CompressAI's compress/decompress on the same weights and image.

Part 1 codes one 768×512 crop of a held-out photograph (scikit-image's astronaut, upscaled
to cover 768×512) with the shipped hyperprior and factorized models on the CPU, REPEATS times,
and reports the best encode and decode times split into:

* networks: the analysis transforms (g_a, and h_a for the hyperprior) when encoding, the
  synthesis g_s when decoding, in float32;
* integer hyper-synthesis: the exact integer network that picks each latent's table;
* entropy coding: range coding with the integer tables (constriction), grouping by table,
  escapes, and the decoder's re-encoding check;

and entropy coding's share of the total.

Part 2 trains the shipped architecture (hyperprior, N = 64, M = 96, five rates, batch 4 of
128×128 crops) for STEPS steps on the CPU and prints steps per second (and on CUDA when
present).

Part 3 (when a Python with CompressAI is given, default /tmp/cai/bin/python: see
plugins/rdpkit-learned-codecs/scripts/compressai_param_names.py for the throwaway venv)
folds the shipped hyperprior's gains at quality Q into its transforms, writes it with
CompressAI's parameter names, and in a subprocess times CompressAI's ScaleHyperprior
compress/decompress on the same image with those weights; rdpkit's hyperprior loads the same
file (weights=PATH, through the CompressAI mapping) and is timed in this process, the two sides
alternating for ROUNDS rounds (the best time of all counts, so a change of load slows both). Both
decoded images must agree with the input to within 0.2 dB of each other, or the script exits 1.

    .venv/bin/python benchmarks/bench_learned_codecs.py [--repeats 3] [--steps 30] [--threads 2] [--rounds 3] [--compressai-python PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rdpkit_learned_codecs.entropy import integer_net
from rdpkit_learned_codecs.entropy.tables import stored_tables
from rdpkit_learned_codecs.networks.padding import pad
from timing import best_time

import rdpkit
from rdpkit.data import load_image

COMPRESSAI_SIDE = r"""
import json, sys, time, numpy as np, torch
from compressai.models import ScaleHyperprior
torch.set_num_threads(int(sys.argv[3]))
state = torch.load(sys.argv[1], weights_only=True)
scale_table = state.pop("gaussian_conditional.scale_table")
net = ScaleHyperprior(state["g_a.0.weight"].shape[0], state["g_a.6.weight"].shape[0])
missing, unexpected = torch.nn.Module.load_state_dict(net, state, strict=False)  # CompressAI's own override wants its CDF buffers, which update() computes
assert not unexpected and all(k.endswith(("_quantized_cdf", "_offset", "_cdf_length", "quantiles", "target", ".bound", "pedestal", "scale_bound", "scale_table")) for k in missing), (missing, unexpected)
net.update(scale_table=scale_table, force=True)
net.eval()
x = torch.from_numpy(np.load(sys.argv[2]))
best = {"encode": 1e9, "decode": 1e9}
with torch.no_grad():
    for _ in range(int(sys.argv[4])):
        t = time.perf_counter(); out = net.compress(x); best["encode"] = min(best["encode"], time.perf_counter() - t)
        t = time.perf_counter(); x_hat = net.decompress(out["strings"], out["shape"])["x_hat"].clamp(0, 1); best["decode"] = min(best["decode"], time.perf_counter() - t)
nbytes = sum(len(s[0]) for s in out["strings"])
mse = float(((x_hat - x) ** 2).mean())
print(json.dumps({**best, "bytes": nbytes, "psnr": -10 * np.log10(mse)}))
"""



def image() -> torch.Tensor:
    return load_image("builtin:astronaut", size=(512, 768))


def split_times(codec, x: torch.Tensor, repeats: int) -> dict[str, float]:
    model = codec.model
    xp = pad(x, codec.config.stride)
    rate = torch.zeros(1, dtype=torch.long)
    t_enc, bits = best_time(lambda: codec.encode(x), repeats)
    raw = bits.to_bytes()
    t_dec, _ = best_time(lambda: codec.decode(raw), repeats)
    with torch.no_grad():
        if codec.config.kind == "hyperprior":
            t_net_enc, y = best_time(lambda: model.hyper_latent(model.latent(xp, rate)), repeats)
            z_hat = torch.round(y).long()
            t_int, _ = best_time(lambda: integer_net.run(codec.coder.integer, z_hat), repeats)
        else:
            t_net_enc, _ = best_time(lambda: model.latent(xp, rate), repeats)
            t_int = 0.0
        t_symbols, symbols = best_time(lambda: codec.symbols(raw), repeats)
        y_hat = torch.from_numpy(symbols["y"]).float()
        t_net_dec, _ = best_time(lambda: model.reconstruct(y_hat, rate), repeats)
    return {"encode": t_enc, "decode": t_dec, "encode networks": t_net_enc, "encode integer h_s": t_int,
            "encode entropy coding": max(t_enc - t_net_enc - t_int, 0.0), "decode entropy coding": max(t_symbols - t_int, 0.0),
            "decode integer h_s": t_int, "decode networks": t_net_dec, "bytes": len(raw)}


def part1(repeats: int) -> None:
    x = image()
    print(f"Part 1: coding one {x.shape[-1]}×{x.shape[-2]} image on the CPU ({torch.get_num_threads()} threads), best of {repeats}")
    for kind in ("hyperprior", "factorized"):
        for quality in (1, 5):
            codec = rdpkit.codec(kind, quality=quality)
            t = split_times(codec, x, repeats)
            share_e = t["encode entropy coding"] / t["encode"]
            share_d = t["decode entropy coding"] / t["decode"]
            print(f"  {kind} q={quality}: {t['bytes']:,} bytes ({8 * t['bytes'] / x[0, 0].numel():.3f} bpp)")
            print(f"    encode {t['encode']:.3f} s = networks {t['encode networks']:.3f} + integer h_s {t['encode integer h_s']:.3f} + entropy coding {t['encode entropy coding']:.3f} ({100 * share_e:.0f}%)")
            print(f"    decode {t['decode']:.3f} s = entropy coding {t['decode entropy coding']:.3f} ({100 * share_d:.0f}%) + integer h_s {t['decode integer h_s']:.3f} + networks {t['decode networks']:.3f}")


def part2(steps: int) -> None:
    from rdpkit_learned_codecs.models.config import ModelConfig
    from rdpkit_learned_codecs.training.crops import Crops
    from rdpkit_learned_codecs.training.transform import Schedule, new_run, train

    crops = Crops.of("builtin:training")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        config = ModelConfig("hyperprior", 64, 96, (0.0018, 0.0035, 0.0067, 0.013, 0.025))
        run = new_run(config, 0, torch.device(device), 3e-4)
        train(run, crops, Schedule(steps=2, batch_size=4, crop=128, lr=3e-4), seed=0, checkpoint=None, resume=False, progress=False)
        t0 = time.perf_counter()
        train(run, crops, Schedule(steps=2 + steps, batch_size=4, crop=128, lr=3e-4), seed=0, checkpoint=None, resume=False, progress=False)
        dt = time.perf_counter() - t0
        print(f"Part 2: training the shipped architecture on {device}: {steps / dt:.2f} steps/s (batch 4 of 128×128, {torch.get_num_threads()} threads)")


def fold_to_compressai(codec) -> dict[str, torch.Tensor]:
    """The shipped model at its rate, gains folded into g_a's last and g_s's first layer, under CompressAI's names."""
    model = codec.model
    state = {k: v.clone() for k, v in model.state_dict().items()}
    g, ig = (t[0, :, 0, 0] for t in model.gains(torch.tensor([codec.rate_index])))
    state["g_a.6.weight"] = state["g_a.6.weight"] * g.detach()[:, None, None, None]
    state["g_a.6.bias"] = state["g_a.6.bias"] * g.detach()
    state["g_s.0.weight"] = state["g_s.0.weight"] * ig.detach()[:, None, None, None]
    out = {}
    for k, v in state.items():
        if k in ("gain", "inverse_gain") or "table_" in k:
            continue
        k = k.replace("hyperprior.", "entropy_bottleneck.").replace("conditional.scale_table", "gaussian_conditional.scale_table")
        out[k] = v.contiguous()
    # CompressAI codes z − median; a median of 0 keeps its ẑ = round(z), as rdpkit's, so both decode the same image.
    tables = stored_tables(model.hyperprior)
    low = torch.from_numpy(tables.lows).float().clamp(max=0)
    high = torch.from_numpy(tables.lows + tables.sizes - 2).float().clamp(min=0)
    out["entropy_bottleneck.quantiles"] = torch.stack([low, torch.zeros_like(low), high], 1)[:, None, :]
    return out


def part3(python: str, quality: int, repeats: int, rounds: int) -> int:
    if not Path(python).is_file():
        print(f"Part 3: skipped: no Python with CompressAI at {python} (see scripts/compressai_param_names.py for the throwaway venv)")
        return 0
    x = image()
    shipped = rdpkit.codec("hyperprior", quality=quality)
    with tempfile.TemporaryDirectory() as tmp:
        weights, pixels = Path(tmp) / "folded.pth", Path(tmp) / "x.npy"
        torch.save(fold_to_compressai(shipped), weights)
        np.save(pixels, x.numpy())
        ours = rdpkit.codec("hyperprior", weights=str(weights))
        t_enc = t_dec = math.inf
        theirs = {"encode": math.inf, "decode": math.inf}
        # Rounds alternate the two sides, so that a machine whose load changes slows both alike; the best of all rounds counts.
        for _ in range(rounds):
            t, bits = best_time(lambda: ours.encode(x), repeats)
            t_enc, raw = min(t_enc, t), bits.to_bytes()
            t, x_hat = best_time(lambda: ours.decode(raw), repeats)
            t_dec = min(t_dec, t)
            done = subprocess.run([python, "-c", COMPRESSAI_SIDE, str(weights), str(pixels), str(torch.get_num_threads()), str(repeats)],
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"Part 3: CompressAI's side failed:\n{done.stderr[-2000:]}")
                return 1
            got = json.loads(done.stdout.strip().splitlines()[-1])
            theirs = {**got, "encode": min(theirs["encode"], got["encode"]), "decode": min(theirs["decode"], got["decode"])}
        ours_psnr = float(rdpkit.psnr(x, x_hat))
    print(f"Part 3: shipped hyperprior q={quality} on the same {x.shape[-1]}×{x.shape[-2]} image and weights, {torch.get_num_threads()} threads, "
          f"best of {rounds} alternating rounds of {repeats}")
    print(f"  rdpkit      encode {t_enc:.3f} s  decode {t_dec:.3f} s  {len(raw):,} bytes (container included; payload {len(bits.payload):,})  {ours_psnr:.2f} dB")
    print(f"  CompressAI  encode {theirs['encode']:.3f} s  decode {theirs['decode']:.3f} s  {theirs['bytes']:,} bytes (strings only)  {theirs['psnr']:.2f} dB")
    print(f"  time ratio CompressAI/rdpkit: encode {theirs['encode'] / t_enc:.2f}, decode {theirs['decode'] / t_dec:.2f}")
    if abs(theirs["psnr"] - ours_psnr) > 0.2:
        print("  PSNR differs by more than 0.2 dB: the weights were not mapped across faithfully")
        return 1
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3, help="part 3: alternating rounds of rdpkit and CompressAI")
    p.add_argument("--compressai-python", default="/tmp/cai/bin/python")
    p.add_argument("--part", choices=["all", "1", "2", "3"], default="all")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.part in ("all", "1"):
        part1(args.repeats)
    if args.part in ("all", "2"):
        part2(args.steps)
    return part3(args.compressai_python, args.quality, args.repeats, args.rounds) if args.part in ("all", "3") else 0


if __name__ == "__main__":
    sys.exit(main())
