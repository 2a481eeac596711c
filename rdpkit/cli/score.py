"""`rdpkit score`: one image against degraded copies, with every registered distortion."""

from __future__ import annotations

import click

from ..recovery.settings import DEFAULT_SIZE
from . import cli
from .common import COMPONENT_HELP, output_options
from .output import console, print_json, table

DEFAULT_DEGRADATIONS = ("gaussian:0.05", "blur:1.5", "jpeg:20", "contrast:0.7", "shift:1")


@cli.command("score")
@click.option("--image", default="builtin:astronaut", show_default=True, help="builtin:NAME or a PNG/JPEG path.")
@click.option("--size", default=DEFAULT_SIZE, show_default=True, help="Side of the square the image is scaled and cropped to (the recovery test's default, so that the two compare).")
@click.option("--degrade", "degradations", multiple=True, help=f"KIND:LEVEL, repeatable [default: {', '.join(DEFAULT_DEGRADATIONS)}].")
@click.option("--distortion", "names", multiple=True, help=f"Only these distortions, repeatable ({COMPONENT_HELP}) [default: every registered one].")
@click.option("--seed", default=0, show_default=True)
@output_options
def score_cmd(image: str, size: int, degradations: tuple[str, ...], names: tuple[str, ...], seed: int, quiet: bool, as_json: bool) -> None:
    """Score IMAGE against degraded copies with every registered distortion, as a table."""
    import torch

    from ..data import load_image
    from ..degrade import degrade, parse
    from ..errors import RdpkitError
    from ..interfaces import psnr
    from ..options import Component
    from ..registry import get_registry

    degradations = degradations or DEFAULT_DEGRADATIONS
    for d in degradations:
        parse(d)
    registry = get_registry()
    components = [Component.parse(n, what="distortion") for n in names] or [Component(n) for n in registry.names("distortion")]
    for c in components:
        registry.info("distortion", c.name)
    x = load_image(image, size=size)
    copies = {d: degrade(x, d, seed=seed) for d in degradations}
    results: dict[str, dict[str, float]] = {"psnr (dB, higher is better)": {d: float(psnr(x, y)[0]) for d, y in copies.items()}}
    missing: dict[str, str] = {}
    for c in components:
        try:
            metric = c.create("distortion", registry)
            with torch.no_grad():
                results[str(c)] = {d: float(metric(x, y)[0]) for d, y in copies.items()}
        except RdpkitError as exc:
            missing[str(c)] = str(exc)
    if as_json:
        for name, row in results.items():
            for d, v in row.items():
                print_json({"distortion": name, "degradation": d, "image": image, "size": size, "value": v})
        for name, why in missing.items():
            print_json({"distortion": name, "image": image, "size": size, "error": why})
        _refuse_named(names, missing)
        return
    console.print(f"[bold]{image}[/] at {size}×{size}; distortions are lower-is-better, Δ(x, x) = 0")
    table("rdpkit score", ["distortion", *degradations], [[n, *row.values()] for n, row in results.items()])
    if missing:
        console.print(f"{len(missing)} distortion(s) could not run:")
        for name, why in missing.items():
            console.print(f"  {name}: {why}", highlight=False, markup=False)
    _refuse_named(names, missing)


def _refuse_named(names: tuple[str, ...], missing: dict[str, str]) -> None:
    """A distortion the user named that could not run ends the command with status 2, as in every other command
    (without names, every registered distortion is tried and those that cannot run here are only listed)."""
    if names and missing:
        raise click.exceptions.Exit(2)
