"""`rdpkit pim`: train a PIM model on frame pairs and write a checkpoint with its record.

The plugin adds the group to `rdpkit` through its hook `rdpkit_commands`; the former script
`rdpkit-pim` still runs it, after a line that names the new command.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from rdpkit.cli.plugin_commands import renamed, run_record
from rdpkit.errors import RdpkitError

VERSIONED = ("rdpkit", "rdpkit-pim", "torch", "numpy", "scikit-image", "safetensors")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rdpkit-pim")
def main() -> None:
    """PIM, the unsupervised perceptual metric: train it on your own videos."""


@main.command()
@click.option("--data", default="builtin", show_default=True, help="'builtin' (frame-like pairs from scikit-image's photographs and stereo pair) or a folder of video frames, or of one sub-folder of frames per video.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Checkpoint to write (.safetensors); its record goes next to it as .json.")
@click.option("--steps", default=1200, show_default=True, help="Optimisation steps.")
@click.option("--batch", default=32, show_default=True, help="Pairs per minibatch.")
@click.option("--crop", default=48, show_default=True, help="Side of the square training crops, in pixels.")
@click.option("--lr", default=3e-3, show_default=True, help="Adam learning rate at the start (cosine-annealed to zero).")
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice (data, initialisation, samples).")
@click.option("--device", default="auto", show_default=True, help="auto (GPU when present), cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice); 1 is fastest on a shared, busy machine.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(data: str, out: Path, steps: int, batch: int, crop: int, lr: float, seed: int, device: str, threads: int | None, quiet: bool) -> None:
    """Train PIM by maximising the IXYZ bound on pairs of temporally close images."""
    import torch

    from rdpkit.validation import usable_device

    from .checkpoint import save
    from .pairs import BuiltinPairs, FramePairs
    from .train import Schedule
    from .train import train as fit

    try:
        if threads is not None:
            if threads < 1:
                raise click.BadParameter(f"must be at least 1, got {threads}", param_hint="--threads")
            torch.set_num_threads(threads)
        schedule = Schedule(steps=steps, batch=batch, crop=crop, lr=lr)
        started = time.perf_counter()
        pairs = BuiltinPairs() if data == "builtin" else FramePairs(data)
        result = fit(pairs, schedule=schedule, seed=seed, device=device, progress=not quiet)
        record = {
            "seed": seed,
            "data": pairs.describe(),
            "schedule": schedule.__dict__,
            "architecture": result.model.config.as_dict(),
            "parameters": sum(p.numel() for p in result.model.parameters()),
            "final_ixyz_bound_nats": round(result.final_bound, 4),
            "device": usable_device(device),
            "training_wall_s": round(result.wall_s, 1),
            **run_record(started, VERSIONED),
        }
        record = save(result.model, out, record)
    except RdpkitError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} ({record['bytes']:,} bytes, sha256 {record['sha256']}) and {out.with_suffix('.json')}; "
               f"IXYZ bound {result.final_bound:.3f} nats after {steps} steps in {result.wall_s:.0f} s")


#: The former console script `rdpkit-pim`.
script = renamed("rdpkit-pim", "pim")
