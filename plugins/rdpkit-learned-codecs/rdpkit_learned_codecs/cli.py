"""The `rdpkit-learned-codecs` command: train a codec and write a model file with the record of how it was made."""

from __future__ import annotations

import importlib.metadata as md
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from rdpkit.errors import RdpkitError

VERSIONED = ("rdpkit", "rdpkit-learned-codecs", "torch", "numpy", "constriction", "safetensors")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"must be numbers separated by commas, got {text!r}", param_hint="--lam") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rdpkit-learned-codecs")
def main() -> None:
    """Learned image codecs (factorized, hyperprior): train one on your own photographs."""


@main.command()
@click.option("--kind", type=click.Choice(["factorized", "hyperprior"]), required=True, help="The codec to train.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Model file to write (.safetensors); its record goes next to it as .json.")
@click.option("--data", default="builtin:training", show_default=True, help="A folder of images, builtin:training (the built-in photographs kept for training), or any rdpkit image source.")
@click.option("--channels", default=128, show_default=True, help="N, the width of the transforms.")
@click.option("--latent-channels", default=192, show_default=True, help="M, the channels of the latent.")
@click.option("--mean", is_flag=True, help="The mean-scale hyperprior of Minnen et al. (hyperprior only).")
@click.option("--lam", default="0.0067", show_default=True, help="Rate weight λ (loss λ·255²·MSE + bpp); several, comma-separated, train one variable-rate model.")
@click.option("--steps", default=10000, show_default=True, help="Optimisation steps.")
@click.option("--batch", default=8, show_default=True, help="Crops per minibatch.")
@click.option("--crop", default=128, show_default=True, help="Side of the square training crops, in pixels.")
@click.option("--lr", default=1e-4, show_default=True, help="Adam learning rate (a tenth of it for the last 10% of the steps).")
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice (initialisation, crops, rates, noise).")
@click.option("--device", default="auto", show_default=True, help="auto (GPU when present), cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Training checkpoint (default: OUT with .pt), written every 100 steps; a rerun resumes from it.")
@click.option("--half", is_flag=True, help="Store the weights as float16 (half the bytes; the tables are computed from the rounded weights).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(kind: str, out: Path, data: str, channels: int, latent_channels: int, mean: bool, lam: str, steps: int, batch: int, crop: int,
          lr: float, seed: int, device: str, threads: int | None, checkpoint: Path | None, half: bool, quiet: bool) -> None:
    """Train a codec on random crops of photographs, then store it with its integer tables."""
    import torch

    from .config import ModelConfig
    from .crops import Crops
    from .storage import save_model
    from .training import Schedule, finish, new_run
    from .training import train as fit
    from .usable import usable_device

    try:
        if threads is not None:
            if threads < 1:
                raise click.BadParameter(f"must be at least 1, got {threads}", param_hint="--threads")
            torch.set_num_threads(threads)
        config = ModelConfig(kind, channels, latent_channels, tuple(_floats(lam)), mean)
        schedule = Schedule(steps=steps, batch_size=batch, crop=crop, lr=lr)
        dev = torch.device(usable_device(device))
        started = time.perf_counter()
        crops = Crops.of(data)
        run = new_run(config, seed, dev, lr)
        run = fit(run, crops, schedule, seed=seed, checkpoint=checkpoint or out.with_suffix(".pt"), resume=True, progress=not quiet)
        model = finish(run.model, half=half)
        record = {
            "command": shlex.join(["rdpkit-learned-codecs", *sys.argv[1:]]),
            "seed": seed,
            "data": crops.description,
            "architecture": {"kind": kind, "channels": channels, "latent_channels": latent_channels, "mean": mean, "lams": list(config.lams)},
            "schedule": {"steps": steps, "batch": batch, "crop": crop, "lr": lr},
            "parameters": sum(p.numel() for p in model.parameters()),
            "storage": "float16" if half else "float32",
            "final": run.history[-1] if run.history else {},
            "history": run.history,
            "device": str(dev),
            "threads": torch.get_num_threads(),
            "training_wall_s": round(run.seconds, 1),
            "total_wall_s": round(time.perf_counter() - started, 1),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(),
            "versions": _versions(),
        }
        written = save_model(out, config, model.state_dict(), record, half=half)
    except RdpkitError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} ({written['bytes']:,} bytes, sha256 {written['sha256']}) and {out.with_suffix('.json')}; "
               f"{steps} steps in {run.seconds:.0f} s of training")


@main.command()
@click.option("--crop", default=512, show_default=True, help="Side of the centre crops of the held-out photographs (0: whole images).")
@click.option("--figure", "figure_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the R-D figure here (PNG).")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
def evaluate(crop: int, figure_path: Path | None, threads: int | None) -> None:
    """The shipped models against JPEG on the held-out photographs: R-D points, BD-rate on PSNR, the figure."""
    import torch

    import rdpkit
    from rdpkit.report import figure_png

    from .evaluate import bd_rate_against, curve, figure, held_out, jpeg_curve, overlap

    try:
        if threads is not None:
            torch.set_num_threads(threads)
        images = held_out(crop or None)
        curves = {"JPEG (Pillow, 4:2:0)": jpeg_curve(images)}
        for kind in ("hyperprior", "factorized"):
            codecs = {f"{kind} q={q}": rdpkit.codec(kind, quality=q) for q in range(1, 6)}
            curves[f"{kind} (shipped)"] = curve(codecs, images)
    except RdpkitError as exc:
        raise click.ClickException(str(exc)) from None
    anchor = curves["JPEG (Pillow, 4:2:0)"]
    for label, points in curves.items():
        click.echo(label)
        for p in points:
            click.echo(f"  {p.setting:16s} {p.bpp:7.4f} bpp  {p.psnr:6.2f} dB")
        if points is not anchor:
            try:
                lo, hi = overlap(anchor, points)
                click.echo(f"  BD-rate against JPEG on PSNR: {bd_rate_against(anchor, points):+.1f}% (over {lo:.2f}-{hi:.2f} dB)")
            except RdpkitError as exc:
                click.echo(f"  BD-rate against JPEG on PSNR: n/a ({exc})")
    click.echo("rate from the bytes beside the model's estimate (mean over images, bits per pixel)")
    for kind in ("hyperprior", "factorized"):
        for q in range(1, 6):
            codec = rdpkit.codec(kind, quality=q)
            reports = [codec.rate(x) for x in images]
            pixels = [x.shape[-1] * x.shape[-2] for x in images]
            measured = sum(r.rate.bits_per_image / p for r, p in zip(reports, pixels)) / len(images)
            estimated = sum(r.estimated_bits_per_image / p for r, p in zip(reports, pixels)) / len(images)
            payload = sum(r.rate.payload_bits_per_image / p for r, p in zip(reports, pixels)) / len(images)
            click.echo(f"  {kind} q={q}: measured {measured:.4f} (payload {payload:.4f}), estimated {estimated:.4f}, "
                       f"gap {measured - estimated:+.4f} bpp ({100 * (measured - estimated) / estimated:+.1f}%; payload alone {100 * (payload - estimated) / estimated:+.1f}%)")
    if figure_path is not None:
        sides = "whole images" if not crop else f"{crop}×{crop} centre crops"
        fig = figure(curves, f"held-out photographs (astronaut, coffee, china), {sides}")
        figure_path.parent.mkdir(parents=True, exist_ok=True)
        figure_path.write_bytes(figure_png(fig))
        click.echo(f"wrote {figure_path}")
