"""`rdpkit learned-codecs`: train a codec and write a model file with the record of how it was made.

The plugin adds the group to `rdpkit` through its hook `rdpkit_commands`; the former script
`rdpkit-learned-codecs` still runs it, after a line that names the new command.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from rdpkit.cli.plugin_commands import renamed, run_record
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
@click.option("--kind", type=click.Choice(["factorized", "hyperprior", "hific"]), required=True, help="The codec to train.")
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
@click.option("--synthesis", type=click.Choice(["gdn", "hific"]), default=None, help="hific: the hyperprior's synthesis transform (gdn) or HiFiC's larger residual generator.")
@click.option("--synthesis-channels", type=int, default=None, help="hific: width of HiFiC's generator.")
@click.option("--blocks", type=int, default=None, help="hific: residual blocks of HiFiC's generator.")
@click.option("--discriminator-channels", type=int, default=None, help="hific: width of the patch discriminator's first layer.")
@click.option("--discriminator-layers", type=int, default=None, help="hific: strided layers of the patch discriminator.")
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
          discriminator_layers: int | None, steps: int, batch: int, crop: int, lr: float, lr_d: float, amp: bool | None, processes: int,
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
                      "--discriminator-layers": discriminator_layers, "--amp/--no-amp": amp, "--distortion": distortion or None,
                      "--processes": processes if processes != 1 else None}
        if kind == "hific":
            _train_hific(out, data, channels, latent_channels, mean, start, quality, lam_p, lam_d, _distortion_terms(distortion), noise, target_bpp,
                         synthesis, synthesis_channels, blocks, discriminator_channels, discriminator_layers, steps, batch, crop, lr, lr_d,
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

    from .config import ModelConfig
    from .crops import Crops
    from .storage import save_model
    from .training import Schedule, finish, new_run
    from .training import train as fit
    
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
                 steps: int, batch: int, crop: int, lr: float, lr_d: float, amp: bool | None, processes: int, seed: int, device: str,
                 checkpoint: Path | None, half: bool, quiet: bool) -> None:
    from . import distributed
    from .crops import Crops
    from .hific import HificCodec
    from .training import finish

    options = {"lam_d": lam_d, "distortion": distortion, "noise": noise, "target_bpp": target_bpp, "synthesis": synthesis,
               "synthesis_channels": synthesis_channels, "blocks": blocks, "discriminator_channels": discriminator_channels,
               "discriminator_layers": discriminator_layers, "channels": channels, "latent_channels": latent_channels, "mean": mean}
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


@main.command()
@click.option("--divergence", default=None, help="Divergence between real and decoded patches [default: frechet,extractor=nss,extractor_options={patch=32}].")
@click.option("--critic", default=None, help="No-reference critic of the decoded images [default: niqe,patch=32].")
@click.option("--patch", default=64, show_default=True, help="Side of the patches the divergence compares.")
@click.option("--bootstrap", default=0, show_default=True, help="Bootstrap resamples for the divergence's interval (0: its own).")
@click.option("--seed", default=0, show_default=True, help="Decode seed of the stochastic decoders (and the divergence's).")
@click.option("--figure", "figure_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the P-D plane here (PNG).")
@click.option("--crops", "crops_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write decoded crops side by side here (PNG).")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per codec on stdout.")
def realism(divergence: str | None, critic: str | None, patch: int, bootstrap: int, seed: int, figure_path: Path | None, crops_path: Path | None,
            threads: int | None, as_json: bool) -> None:
    """The shipped hific pairs and the hyperprior they started from on the P-D plane of the held-out photographs."""
    import torch

    import rdpkit
    from rdpkit.report import figure_png

    from . import realism as pd
    from .evaluate import held_out
    from .hific import HificCodec
    from .shipped import SHIPPED_HIFIC

    try:
        if threads is not None:
            torch.set_num_threads(threads)
        images = held_out(None)
        rows: list[dict[str, object]] = []  # one per shipped rate: the hyperprior the pair started from, then the pair
        for q in sorted({q for q, _ in SHIPPED_HIFIC}):
            rows.append({f"hyperprior q={q}": rdpkit.codec("hyperprior", quality=q),
                         **{f"hific q={q} λ_p={lam_p:g}": HificCodec(quality=q, lam_p=lam_p) for qq, lam_p in sorted(SHIPPED_HIFIC) if qq == q}})
        groups: list[list[pd.PDPoint]] = [[] for _ in rows]
        decoded: list[dict[str, list[torch.Tensor]]] = [{} for _ in rows]
        for row, group, out_row in zip(rows, groups, decoded):
            for label, codec in row.items():
                point, out = pd.measure(label, codec, images, divergence=divergence or pd.DIVERGENCE, critic=critic or pd.CRITIC,
                                        patch=patch, seed=seed, bootstrap=bootstrap)
                group.append(point)
                out_row[label] = out
                if as_json:
                    click.echo(json.dumps(point.as_dict()))
                else:
                    e, ci = point.divergence, point.divergence.ci or (float("nan"), float("nan"))
                    click.echo(f"{label:22s} {point.bpp:.4f} bpp  MSE {point.mse.mean:.5f} ± {point.mse.stderr:.5f} ({point.psnr:.2f} dB)  "
                               f"{e.quantity} {e.value:.4g} [{ci[0]:.4g}, {ci[1]:.4g}] on {e.n} patches  critic {point.critic.mean:.3f} ± {point.critic.stderr:.3f}")
    except RdpkitError as exc:
        raise click.ClickException(str(exc)) from None
    for path, fig in ((figure_path, pd.plane_figure(groups) if figure_path else None),
                      (crops_path, pd.crops_figure(images, decoded) if crops_path else None)):
        if path is not None and fig is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(figure_png(fig))
            if not as_json:
                click.echo(f"wrote {path}")


#: The former console script `rdpkit-learned-codecs`.
script = renamed("rdpkit-learned-codecs", "learned-codecs")
