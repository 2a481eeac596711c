"""`rdpkit score`: images against degraded copies, with every registered distortion."""

from __future__ import annotations

import click

from ..degrade import SPELLINGS
from ..errors import InputError
from ..recovery.settings import DEFAULT_SIZE
from . import cli
from .common import COMPONENT_HELP, images_option, output_options
from .output import console, print_json, table

DEFAULT_IMAGES = ("builtin:astronaut",)
DEFAULT_DEGRADATIONS = ("gaussian:0.05", "blur:1.5", "jpeg:20", "contrast:0.7", "shift:1")  # short forms: narrow table columns
#: The largest --size unless --max-size says otherwise. Memory grows with the square of the side: LPIPS-VGG, the most
#: memory-hungry distortion measured, needs about 2.8 kB a pixel (12 GB at 2048, so a 24 GB machine scores every
#: default here), the blur degradation alone 190 bytes (27.6 GB at 12,000).
MAX_SIZE = 2048
LPIPS_VGG_BYTES_PER_PIXEL = 2.8e3


@cli.command("score")
@images_option(", ".join(DEFAULT_IMAGES))
@click.option("--size", default=DEFAULT_SIZE, show_default=True, help="Side of the square each image is scaled and cropped to (the recovery test's default, so that the two compare).")
@click.option("--max-size", default=MAX_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Largest --size accepted: at the default, LPIPS-VGG, the most memory-hungry distortion measured, fits a 24 GB machine; raise it where there is more memory.")
@click.option("--degrade", "degradations", multiple=True, help=f"A degradation, repeatable: {SPELLINGS} [default: {', '.join(DEFAULT_DEGRADATIONS)}].")
@click.option("--distortion", "names", multiple=True, help=f"Only these distortions, repeatable ({COMPONENT_HELP}) [default: every registered one].")
@click.option("--seed", default=0, show_default=True)
@output_options
def score_cmd(images: tuple[str, ...], size: int, max_size: int, degradations: tuple[str, ...], names: tuple[str, ...], seed: int,
              quiet: bool, as_json: bool) -> None:
    """Score each image against degraded copies of it with every registered distortion, as a table per image."""
    import torch

    from ..data import Source, load_image
    from ..degrade import degrade, parse
    from ..errors import RdpkitError
    from ..interfaces import Distortion, psnr
    from ..options import Component
    from ..registry import get_registry

    if size > max_size:
        raise InputError(f"--size {size} is larger than --max-size {max_size} (at the default, {MAX_SIZE}, every distortion measured fits a 24 GB machine; "
                         f"LPIPS-VGG alone would need about {LPIPS_VGG_BYTES_PER_PIXEL * size**2 / 1e9:.0f} GB at {size}×{size}); "
                         f"pass a smaller --size, or --max-size {size} where there is the memory.")
    degradations = degradations or DEFAULT_DEGRADATIONS
    for d in degradations:
        parse(d)
    references = [ref for source in images or DEFAULT_IMAGES for ref in Source.parse(source).references()]  # a folder gives each of its images
    registry = get_registry()
    components = [Component.parse(n, what="distortion") for n in names] or [Component(n) for n in registry.names("distortion")]
    for c in components:
        registry.info("distortion", c.name)
    metrics: dict[str, Distortion] = {}
    missing: dict[str, str] = {}
    for c in components:
        try:
            metrics[str(c)] = c.create("distortion", registry)
        except RdpkitError as exc:
            missing[str(c)] = str(exc)
    for image in references:
        x = load_image(image, size=size)
        copies = {d: degrade(x, d, seed=seed) for d in degradations}
        results: dict[str, dict[str, float]] = {"psnr (dB, higher is better)": {d: float(psnr(x, y)[0]) for d, y in copies.items()}}
        for name, metric in list(metrics.items()):
            try:
                with torch.no_grad():
                    results[name] = {d: float(metric(x, y)[0]) for d, y in copies.items()}
            except RdpkitError as exc:  # this image does not suit it (too small, ...): said once, not tried again
                missing[name] = str(exc)
                del metrics[name]
        if as_json:
            for name, row in results.items():
                for d, v in row.items():
                    print_json({"distortion": name, "degradation": d, "image": image, "size": size, "value": v})
            for name, why in missing.items():
                print_json({"distortion": name, "image": image, "size": size, "error": why})
        else:
            console.print(f"[bold]{image}[/] at {size}×{size}; distortions are lower-is-better, Δ(x, x) = 0")
            table("rdpkit score", ["distortion", *degradations], [[n, *row.values()] for n, row in results.items()])
    if missing and not as_json:
        console.print(f"{len(missing)} distortion(s) could not run:")
        for name, why in missing.items():
            console.print(f"  {name}: {why}", highlight=False, markup=False)
    _refuse_named(names, missing)


def _refuse_named(names: tuple[str, ...], missing: dict[str, str]) -> None:
    """A distortion the user named that could not run ends the command with status 2, as in every other command
    (without names, every registered distortion is tried and those that cannot run here are only listed)."""
    if names and missing:
        raise click.exceptions.Exit(2)
