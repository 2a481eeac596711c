"""Device check (issue 22): the learned codecs' GPU paths, run once on a machine with a CUDA GPU, in under 5 minutes.

1. Coding across devices: for the shipped factorized, hyperprior and hific models, one
   photograph (scikit-image's astronaut, 512×768) is encoded on the GPU and decoded on the
   CPU, and encoded on the CPU and decoded on the GPU. For each bitstream, the integers it
   holds (the entropy-decoded ŷ, ẑ and each latent's table, `codec.symbols`) must be
   identical on both sides, and the two decoded images may differ only by the floating point
   of the synthesis: at most one 8-bit level (1/255) anywhere. How many latents the two
   encoders rounded differently (their analyses are float32 on different hardware) is printed,
   not checked: the bitstream, not the encoder, is what must decode the same everywhere.
2. Training hific (`rdpkit learned-codecs train --kind hific --start shipped`) for 200 steps
   on the GPU under bfloat16 autocast (`--amp`), and for a few steps on the CPU in float32;
   steps per second of each (the training loop's own wall time, from the model's record) and
   their ratio.
3. Data-parallel training through the same command: `--processes 1`, and `--processes 2`
   (NCCL between two GPUs) where the machine has two; the training loop refuses processes
   that end with different weights. As `--processes 1` trains without a process group, an
   NCCL group of as many processes as GPUs (at most two) is also started through the same
   launcher (training/distributed.py) and one all-reduce over it is checked.

Prints one table and exits 1 if any check fails (a mismatch, or a command that failed).
Without a GPU it says so in one sentence and exits 0. `--device cpu` is the dry run: the same
comparisons CPU against CPU (and data-parallel training over two CPU processes with gloo),
small and quick, so the script is known to run before a GPU is at hand.

    .venv/bin/python benchmarks/device_check.py [--device cuda] [--steps 200] [--cpu-steps 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

NEEDS_GPU = "The device check needs a CUDA GPU and this machine has none, so nothing was checked (--device cpu runs its CPU-only dry run)."
KINDS = ("factorized", "hyperprior", "hific")
#: The decoded images of one bitstream on two devices may differ by the synthesis' floating point, at most this much.
IMAGE_TOLERANCE = 1 / 255


@dataclass(frozen=True)
class Row:
    check: str
    measured: str
    passed: bool | None  # None: printed for information, not checked


def coding_rows(kind: str, quality: int, x: torch.Tensor, gpu: str) -> list[Row]:
    """Encode on one device, decode on the other, both ways: the integers must match exactly, the images within a level."""
    import rdpkit

    codecs = {device: rdpkit.codec(kind, quality=quality).to(device) for device in (gpu, "cpu")}
    raws = {device: codec.encode(x.to(device)).to_bytes() for device, codec in codecs.items()}
    rows = []
    for enc, dec in ((gpu, "cpu"), ("cpu", gpu)):
        raw = raws[enc]
        here, there = codecs[enc].symbols(raw), codecs[dec].symbols(raw)
        same = here.keys() == there.keys() and all(np.array_equal(here[k], there[k]) for k in here)
        count = sum(v.size for v in here.values())
        a, b = (codecs[d].decode(raw).cpu().double() for d in (enc, dec))
        gap = float((a - b).abs().max())
        levels = float(((a * 255).round() != (b * 255).round()).double().mean())
        rows.append(Row(f"{kind} q={quality}: encode {enc}, decode {dec}",
                        f"{len(raw):,} bytes; {count:,} integers {'identical' if same else 'DIFFER'}; image max |Δ| {gap:.1e} ({100 * levels:.3f}% of 8-bit values)",
                        same and gap <= IMAGE_TOLERANCE))
    y = {d: codecs[d].symbols(raws[d])["y"] for d in raws}
    differ = int((y[gpu] != y["cpu"]).sum()) if y[gpu].shape == y["cpu"].shape else y[gpu].size
    rows.append(Row(f"{kind} q={quality}: encoded on {gpu} vs cpu", f"{differ:,} of {y['cpu'].size:,} latents rounded differently; bytes "
                    f"{'identical' if raws[gpu] == raws['cpu'] else 'differ'}", None))
    return rows


def train(device: str, steps: int, batch: int, crop: int, amp: bool, processes: int, folder: Path) -> tuple[dict | None, str]:
    """`rdpkit learned-codecs train --kind hific` from the shipped quality-1 start; its record (with the command's wall time), or None and its error."""
    out = folder / f"hific-{device.replace(':', '')}-{processes}p-{steps}s.safetensors"
    command = [str(Path(sys.executable).with_name("rdpkit")), "learned-codecs", "train", "--kind", "hific", "--start", "shipped", "--quality", "1",
               "--lam-p", "0.15", "--steps", str(steps), "--batch", str(batch), "--crop", str(crop), "--device", device,
               "--amp" if amp else "--no-amp", "--processes", str(processes), "--seed", "0", "--out", str(out), "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        said = (done.stderr + done.stdout).strip().splitlines()
        return None, f"exit status {done.returncode}: {said[-1][:200] if said else 'nothing said'}"
    return {**json.loads(out.with_suffix(".json").read_text()), "command_s": time.perf_counter() - started}, ""


def steps_per_second(record: dict, steps: int) -> float:
    return steps / max(float(record["training_wall_s"]), 0.1)  # the record rounds the wall time to 0.1 s


def training_rows(gpu: str, steps: int, cpu_steps: int, batch: int, crop: int, folder: Path) -> list[Row]:
    amp = gpu != "cpu"  # bfloat16 autocast is the GPU's setting; the dry run times float32 twice
    fast, error = train(gpu, steps, batch, crop, amp, 1, folder)
    if fast is None:
        return [Row(f"hific training, {steps} steps on {gpu}", error, False)]
    slow, error = train("cpu", cpu_steps, batch, crop, False, 1, folder)
    if slow is None:
        return [Row(f"hific training, {cpu_steps} steps on cpu", error, False)]
    rate_fast, rate_slow = steps_per_second(fast, steps), steps_per_second(slow, cpu_steps)
    loss = fast["final"].get("loss", float("nan")) if fast["final"] else float("nan")
    return [Row(f"hific training, {steps} steps on {gpu}{' (bfloat16 autocast)' if amp else ''}",
                f"{rate_fast:.2f} steps/s; final loss {loss:.4g}", bool(np.isfinite(loss))),
            Row(f"hific training, {cpu_steps} steps on cpu (float32)", f"{rate_slow:.3f} steps/s; {gpu} is {rate_fast / rate_slow:.1f}× the CPU", None)]


def nccl_probe(device: torch.device) -> None:
    """Run by training/distributed.launch in each process: one all-reduce of ones over the group, checked."""
    import torch.distributed as dist

    total = torch.ones(1, device=device)
    dist.all_reduce(total)
    if int(total.item()) != dist.get_world_size():
        raise RuntimeError(f"all_reduce of ones over {dist.get_world_size()} processes gave {total.item()}")


def parallel_rows(gpu: str, steps: int, batch: int, crop: int, folder: Path) -> list[Row]:
    from rdpkit_learned_codecs.training.distributed import backend, launch

    group = backend(torch.device(gpu))
    counts = [1, 2] if gpu == "cpu" or torch.cuda.device_count() >= 2 else [1]
    rows = []
    for processes in counts:
        record, error = train(gpu, steps, batch, crop, gpu != "cpu", processes, folder)
        label = f"data-parallel training, --processes {processes} on {gpu}{f' ({group})' if processes > 1 else ''}"
        if record is None:
            rows.append(Row(label, error, False))
            continue
        replicas = record["replicas"]  # each process's digest of its final weights
        rows.append(Row(label, f"{steps} steps, the command {record['command_s']:.0f} s; {len(replicas)} replica(s), "
                        f"{'the same weights' if len(set(replicas)) == 1 else 'DIFFERENT weights'}", len(replicas) == processes and len(set(replicas)) == 1))
    label = f"{group} all_reduce over {counts[-1]} process(es) (distributed.launch)"
    try:
        launch(counts[-1], torch.device(gpu), 1, nccl_probe)
        rows.append(Row(label, "correct", True))
    except Exception as exc:  # noqa: BLE001  (any failure is this check's finding, reported in the table)
        rows.append(Row(label, f"{type(exc).__name__}: {exc}"[:200], False))
    return rows


def table(rows: list[Row]) -> str:
    width = max(len(r.check) for r in rows)
    mark = {True: "ok", False: "MISMATCH", None: "info"}
    return "\n".join(f"{r.check:<{width}}  {mark[r.passed]:<8}  {r.measured}" for r in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="the GPU (cuda, cuda:N), or cpu for the dry run")
    p.add_argument("--steps", type=int, default=200, help="training steps on the GPU")
    p.add_argument("--cpu-steps", type=int, default=3, help="training steps on the CPU, for the speed ratio")
    p.add_argument("--parallel-steps", type=int, default=20, help="training steps of each data-parallel run")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--size", default="512x768", help="HEIGHTxWIDTH of the photograph coded")
    args = p.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available():
        print(NEEDS_GPU)
        return 0
    from rdpkit.data import load_image

    height, width = (int(v) for v in args.size.split("x"))
    x = load_image("builtin:astronaut", size=(height, width))
    rows = [row for kind in KINDS for row in coding_rows(kind, 1, x, args.device)]
    with tempfile.TemporaryDirectory() as tmp:
        rows += training_rows(args.device, args.steps, args.cpu_steps, args.batch, args.crop, Path(tmp))
        rows += parallel_rows(args.device, args.parallel_steps, args.batch, args.crop, Path(tmp))
    name = torch.cuda.get_device_name(args.device) if args.device != "cpu" else "CPU (dry run)"
    print(f"Device check on {name}, torch {torch.__version__}")
    print(table(rows))
    failed = [r for r in rows if r.passed is False]
    print(f"{len(failed)} of {sum(r.passed is not None for r in rows)} checks failed" if failed else "every check passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
