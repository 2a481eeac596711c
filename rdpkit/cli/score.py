"""`rdpkit score`: one image against degraded copies, with every registered distortion."""

from __future__ import annotations

import click

from . import cli
from .output import console, print_json, table

DEFAULT_DEGRADATIONS = ("gaussian:0.05", "blur:1.5", "jpeg:20", "contrast:0.7", "shift:1")


@cli.command("score")
@click.option("--image", default="builtin:astronaut", show_default=True, help="builtin:NAME or a PNG/JPEG path.")
@click.option("--size", default=256, show_default=True, help="Side of the square the image is scaled and cropped to.")
@click.option("--degrade", "degradations", multiple=True, help=f"KIND:LEVEL, repeatable [default: {', '.join(DEFAULT_DEGRADATIONS)}].")
@click.option("--distortion", "names", multiple=True, help="Only these distortions (repeatable) [default: every registered one].")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: distortion, degradation, value (or error).")
def score_cmd(image: str, size: int, degradations: tuple[str, ...], names: tuple[str, ...], seed: int, as_json: bool) -> None:
    """Score IMAGE against degraded copies with every registered distortion, as a table."""
    import torch

    from ..data import load_image
    from ..degrade import degrade, parse
    from ..errors import RdpkitError
    from ..interfaces import psnr
    from ..registry import get_registry

    degradations = degradations or DEFAULT_DEGRADATIONS
    for d in degradations:
        parse(d)
    registry = get_registry()
    names = names or tuple(registry.names("distortion"))
    for n in names:
        registry.info("distortion", n)
    x = load_image(image, size=size)
    copies = {d: degrade(x, d, seed=seed) for d in degradations}
    results: dict[str, dict[str, float | str]] = {"psnr (dB, higher is better)": {d: float(psnr(x, y)[0]) for d, y in copies.items()}}
    for name in names:
        try:
            metric = registry.create("distortion", name)
            with torch.no_grad():
                results[name] = {d: float(metric(x, y)[0]) for d, y in copies.items()}
        except RdpkitError as exc:
            results[name] = {d: f"error: {exc}" for d in degradations}
    if as_json:
        for name, row in results.items():
            for d, v in row.items():
                print_json({"distortion": name, "degradation": d, "image": image, "size": size,
                            **({"error": v} if isinstance(v, str) else {"value": v})})
        return
    console.print(f"[bold]{image}[/] at {size}×{size}; distortions are lower-is-better, Δ(x, x) = 0")
    table("rdpkit score", ["distortion", *degradations], [[n, *row.values()] for n, row in results.items()])
