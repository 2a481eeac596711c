"""`rdpkit learned-codecs`: train a codec and write a model file with the record of how it was made.

The plugin adds the group to `rdpkit` through its hook `rdpkit_commands`; the former script
`rdpkit-learned-codecs` still runs it, after a line that names the new command.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from rdpkit.cli.plugin_commands import Choice, renamed, run_record
from rdpkit.errors import RdpkitError

VERSIONED = ("rdpkit", "rdpkit-learned-codecs", "torch", "numpy", "constriction", "safetensors")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"must be numbers separated by commas, got {text!r}", param_hint="--lam") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rdpkit-learned-codecs")
def main() -> None:
    """Learned image codecs (factorized, hyperprior, hific): train one on your own photographs."""


def _distortion_terms(values: tuple[str, ...]) -> str | list[list[object]] | None:
    """``--distortion mse --distortion "0.1*lpips-alex,pretrained=false"`` as the hific codec's distortion option."""
    if not values:
        return None
    terms: list[list[object]] = []
    for text in values:
        weight, star, component = text.partition("*")
        try:
            terms.append([component.strip(), float(weight)] if star else [text.strip(), 1.0])
        except ValueError:
            raise click.BadParameter(f"must be COMPONENT or WEIGHT*COMPONENT (such as 0.1*pim), got {text!r}", param_hint="--distortion") from None
    return terms[0][0] if len(terms) == 1 and terms[0][1] == 1.0 else terms  # type: ignore[return-value]


def _record(seed: int, crops_description: dict, device: str, seconds: float, started: float, history: list, **fields: object) -> dict:
    return {
        "seed": seed,
        "data": crops_description,
        **fields,
        "final": history[-1] if history else {},
        "history": history,
        "device": device,
        "training_wall_s": round(seconds, 1),
        **run_record(started, VERSIONED),
    }


@main.command()
@click.option("--kind", type=Choice(["factorized", "hyperprior", "hific"]), required=True, help="The codec to train.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Model file to write (.safetensors); its record goes next to it as .json.")
@click.option("--data", default="builtin:training", show_default=True, help="A folder of images, builtin:training (the built-in photographs kept for training), or any rdpkit image source.")
@click.option("--channels", type=int, default=None, help="N, the width of the transforms [default: 128; hific: the start's, else 64].")
@click.option("--latent-channels", type=int, default=None, help="M, the channels of the latent [default: 192; hific: the start's, else 96].")
@click.option("--mean", is_flag=True, default=None, help="The mean-scale hyperprior of Minnen et al. (hyperprior, or hific from scratch).")
@click.option("--lam", default="0.0067", show_default=True, help="Rate weight λ (loss λ·255²·MSE + bpp); several, comma-separated, train one variable-rate model (not hific: see --lam-d).")
@click.option("--start", default=None, help="hific: the distortion-only model to start from: 'shipped' (the shipped hyperprior at --quality) or a hyperprior or hific model file.")
@click.option("--quality", type=int, default=None, help="hific: which rate of a variable-rate start (1-based).")
@click.option("--lam-p", type=float, default=None, help="hific: λ_p, the weight of the GAN loss (0: the distortion-only twin).")
@click.option("--lam-d", type=float, default=None, help="hific: λ_d, the weight of the distortion [default: λ·255² of the start for MSE].")
@click.option("--distortion", multiple=True, help="hific: the distortion, a registered differentiable one; repeat with WEIGHT*NAME for a weighted sum (mse, 0.1*pim).")
@click.option("--noise", type=float, default=None, help="hific: α, the decoder's noise as a fraction of the quantisation bin (0: deterministic decoder).")
@click.option("--target-bpp", type=float, default=None, help="hific: rate target on the training crops; the rate weight is adjusted to meet it.")
@click.option("--synthesis", type=Choice(["gdn", "hific"]), default=None, help="hific: the hyperprior's synthesis transform (gdn) or HiFiC's larger residual generator.")
@click.option("--synthesis-channels", type=int, default=None, help="hific: width of HiFiC's generator.")
@click.option("--blocks", type=int, default=None, help="hific: residual blocks of HiFiC's generator.")
@click.option("--discriminator-channels", type=int, default=None, help="hific: width of the patch discriminator's first layer.")
@click.option("--discriminator-layers", type=int, default=None, help="hific: strided layers of the patch discriminator.")
@click.option("--discriminator-input", type=Choice(["band-pass", "high-pass"]), default=None,
              help="hific: the detail the discriminator sees: band-pass (blind to the synthesis's stride frequencies) [default] or high-pass (the first shipped pairs').")
@click.option("--grid-weight", type=float, default=None,
              help="hific: λ_g, the weight (relative to λ_d) of the penalty on the error's part that repeats with the synthesis's stride, a grid [default: 0].")
@click.option("--steps", default=10000, show_default=True, help="Optimisation steps.")
@click.option("--batch", default=8, show_default=True, help="Crops per minibatch (over all processes).")
@click.option("--crop", default=128, show_default=True, help="Side of the square training crops, in pixels.")
@click.option("--lr", default=1e-4, show_default=True, help="Adam learning rate (a tenth of it for the last 10% of the steps).")
@click.option("--lr-d", default=4e-4, show_default=True, help="hific: the discriminator's learning rate.")
@click.option("--amp/--no-amp", default=None, help="hific: bfloat16 autocast for the generator and discriminator [default: on a GPU].")
@click.option("--processes", default=1, show_default=True, help="hific: data-parallel processes on this machine (one per GPU, or CPU processes with gloo); or run this command under torchrun.")
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice (initialisation, crops, rates, noise).")
@click.option("--device", default="auto", show_default=True, help="auto (GPU when present), cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Training checkpoint (default: OUT with .pt), written every 100 steps; a rerun resumes from it.")
@click.option("--half", is_flag=True, help="Store the weights as float16 (half the bytes; the tables are computed from the rounded weights).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(kind: str, out: Path, data: str, channels: int | None, latent_channels: int | None, mean: bool | None, lam: str, start: str | None,
          quality: int | None, lam_p: float | None, lam_d: float | None, distortion: tuple[str, ...], noise: float | None, target_bpp: float | None,
          synthesis: str | None, synthesis_channels: int | None, blocks: int | None, discriminator_channels: int | None,
          discriminator_layers: int | None, discriminator_input: str | None, grid_weight: float | None, steps: int, batch: int, crop: int, lr: float, lr_d: float, amp: bool | None, processes: int,
          seed: int, device: str, threads: int | None, checkpoint: Path | None, half: bool, quiet: bool) -> None:
    """Train a codec on random crops of photographs, then store it with its integer tables."""
    import torch

    try:
        if threads is not None:
            if threads < 1:
                raise click.BadParameter(f"must be at least 1, got {threads}", param_hint="--threads")
            torch.set_num_threads(threads)
        hific_only = {"--start": start, "--quality": quality, "--lam-p": lam_p, "--lam-d": lam_d, "--noise": noise, "--target-bpp": target_bpp,
                      "--synthesis": synthesis, "--synthesis-channels": synthesis_channels, "--blocks": blocks, "--discriminator-channels": discriminator_channels,
                      "--discriminator-layers": discriminator_layers,
                      "--discriminator-input": discriminator_input, "--grid-weight": grid_weight, "--amp/--no-amp": amp, "--distortion": distortion or None,
                      "--processes": processes if processes != 1 else None}
        if kind == "hific":
            _train_hific(out, data, channels, latent_channels, mean, start, quality, lam_p, lam_d, _distortion_terms(distortion), noise, target_bpp,
                         synthesis, synthesis_channels, blocks, discriminator_channels, discriminator_layers, discriminator_input, grid_weight, steps, batch, crop, lr, lr_d,
                         amp, processes, seed, device, checkpoint, half, quiet)
            return
        misplaced = [k for k, v in hific_only.items() if v is not None]
        if misplaced:
            raise click.BadParameter(f"{', '.join(misplaced)} {'is an option' if len(misplaced) == 1 else 'are options'} of --kind hific only")
        _train_transform(kind, out, data, channels or 128, latent_channels or 192, bool(mean), lam, steps, batch, crop, lr, seed, device, checkpoint, half, quiet)
    except RdpkitError as exc:
        raise click.ClickException(str(exc)) from None


def _train_transform(kind: str, out: Path, data: str, channels: int, latent_channels: int, mean: bool, lam: str, steps: int, batch: int, crop: int,
                     lr: float, seed: int, device: str, checkpoint: Path | None, half: bool, quiet: bool) -> None:
    import torch

    from rdpkit.validation import usable_device

    from .models.config import ModelConfig
    from .training.crops import Crops
    from .models.storage import save_model
    from .training.transform import Schedule, finish, new_run
    from .training.transform import train as fit
    
    config = ModelConfig(kind, channels, latent_channels, tuple(_floats(lam)), mean)
    schedule = Schedule(steps=steps, batch_size=batch, crop=crop, lr=lr)
    dev = torch.device(usable_device(device))
    started = time.perf_counter()
    crops = Crops.of(data)
    run = new_run(config, seed, dev, lr)
    run = fit(run, crops, schedule, seed=seed, checkpoint=checkpoint or out.with_suffix(".pt"), resume=True, progress=not quiet)
    model = finish(run.model, half=half)
    record = _record(seed, crops.description, str(dev), run.seconds, started, run.history,
                     architecture={"kind": kind, "channels": channels, "latent_channels": latent_channels, "mean": mean, "lams": list(config.lams)},
                     schedule={"steps": steps, "batch": batch, "crop": crop, "lr": lr},
                     parameters=sum(p.numel() for p in model.parameters()), storage="float16" if half else "float32")
    written = save_model(out, config, model.state_dict(), record, half=half)
    click.echo(f"wrote {out} ({written['bytes']:,} bytes, sha256 {written['sha256']}) and {out.with_suffix('.json')}; "
               f"{steps} steps in {run.seconds:.0f} s of training")


def _train_hific(out: Path, data: str, channels: int | None, latent_channels: int | None, mean: bool | None, start: str | None, quality: int | None,
                 lam_p: float | None, lam_d: float | None, distortion: object, noise: float | None, target_bpp: float | None, synthesis: str | None,
                 synthesis_channels: int | None, blocks: int | None, discriminator_channels: int | None, discriminator_layers: int | None,
                 discriminator_input: str | None, grid_weight: float | None, steps: int, batch: int, crop: int, lr: float, lr_d: float, amp: bool | None, processes: int,
                 seed: int, device: str,
                 checkpoint: Path | None, half: bool, quiet: bool) -> None:
    from .training import distributed
    from .training.crops import Crops
    from .codecs.hific import HificCodec
    from .training.transform import finish

    options = {"lam_d": lam_d, "distortion": distortion, "noise": noise, "target_bpp": target_bpp, "synthesis": synthesis,
               "synthesis_channels": synthesis_channels, "blocks": blocks, "discriminator_channels": discriminator_channels,
               "discriminator_layers": discriminator_layers, "discriminator_input": discriminator_input, "grid_weight": grid_weight, "channels": channels, "latent_channels": latent_channels, "mean": mean}
    given = {k: v for k, v in options.items() if v is not None}
    if start is None and not {"channels", "latent_channels"} & given.keys():
        given.update(channels=64, latent_channels=96)  # a new codec needs an architecture: the shipped models' size
    started = time.perf_counter()
    codec = HificCodec(lam_p=lam_p, start=start, quality=quality, **given)  # type: ignore[arg-type]
    crops = Crops.of(data)
    codec.fit(crops, steps=steps, batch_size=batch, crop=crop, lr=lr, lr_d=lr_d, seed=seed, device=device,
              checkpoint=checkpoint or out.with_suffix(".pt"), resume=True, progress=not quiet, amp=amp, processes=processes)
    if not distributed.current().main:
        return  # under torchrun, the first process writes the file
    model = finish(codec._trained(), half=half)
    codec.model = model
    codec._prepare()
    h = codec.hific
    record = _record(seed, crops.description, device, codec.train_seconds, started, codec.history,
                     architecture={"kind": "hific", **json.loads(h.to_json())},
                     start=None if codec._start is None else codec._start.description,
                     schedule={"steps": steps, "batch": batch, "crop": crop, "lr": lr, "lr_d": lr_d, "amp": amp, "processes": processes},
                     replicas=codec.replicas, parameters=sum(p.numel() for p in model.parameters()),
                     storage="float16" if half else "float32")
    written = codec.save(out, half=half, record=record)
    click.echo(f"wrote {written} (sha256 {json.loads(out.with_suffix('.json').read_text())['sha256']}) and {out.with_suffix('.json')}; "
               f"{steps} steps in {codec.train_seconds:.0f} s of training")


#: The former console script `rdpkit-learned-codecs`.
script = renamed("rdpkit-learned-codecs", "learned-codecs")
