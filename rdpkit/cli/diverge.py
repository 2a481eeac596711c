"""`rdpkit diverge`: a divergence between two sample sets (image folders or .npy arrays), with its uncertainty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import cli
from .output import console, print_json, table


def load_samples(source: str, size: int, gray: bool) -> Any:
    """A folder of images (N×C×size×size in [0, 1]) or a .npy array (N×D or N×C×H×W, as stored) as a tensor."""
    import numpy as np
    import torch

    from ..data import load_folder
    from ..errors import InputError

    path = Path(source)
    if path.is_dir():
        return load_folder(path, size=size, gray=gray)
    if path.suffix.lower() == ".npy" and path.is_file():
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"cannot read {source!r} as a numeric .npy array ({exc}); save it with numpy.save.") from None
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise InputError(f"{source!r} holds {array.dtype} values; a sample set must be real numbers.")
        return torch.from_numpy(array.astype(np.float64 if array.dtype == np.float64 else np.float32))
    raise InputError(f"{source!r} is neither a folder of images nor a .npy file; give one of those.")


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is read as JSON (numbers, true/false, null, lists) or else kept as a string."""
    from ..errors import InputError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"option {pair!r} is not KEY=VALUE; write e.g. --option projections=512.")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


@cli.command("diverge")
@click.argument("name")
@click.option("--p", "p_source", required=True, help="Real samples: a folder of images or a .npy file (N×D or N×C×H×W).")
@click.option("--q", "q_source", required=True, help="Other samples (e.g. a codec's outputs), same form as --p.")
@click.option("--bootstrap", default=0, show_default=True, help="Bootstrap resamples for the interval (0: the estimator's own).")
@click.option("--confidence", default=0.95, show_default=True, help="Level of the interval.")
@click.option("--size", default=64, show_default=True, help="Side images of folders are scaled and cropped to.")
@click.option("--gray", is_flag=True, help="Read folder images as gray.")
@click.option("--option", "options", multiple=True, help="KEY=VALUE option of the divergence (repeatable), e.g. projections=512.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the estimate and the divergence's metadata.")
def diverge_cmd(name: str, p_source: str, q_source: str, bootstrap: int, confidence: float, size: int, gray: bool,
                options: tuple[str, ...], seed: int, as_json: bool) -> None:
    """Estimate the divergence NAME between the samples of --p and --q (see `rdpkit list divergence`)."""
    from ..registry import get_registry

    div = get_registry().create("divergence", name, **parse_options(options))
    p, q = load_samples(p_source, size, gray), load_samples(q_source, size, gray)
    est = div.estimate(p, q, bootstrap=bootstrap, confidence=confidence, seed=seed)
    if as_json:
        print_json({"divergence": name, **est.as_dict(), "info": div.info.as_dict(), "p": p_source, "q": q_source})
        return
    ci = f"[{est.ci[0]:.4g}, {est.ci[1]:.4g}]" if est.ci else "-"
    console.print(f"[bold]{name}[/]: {div.info.summary}")
    table("rdpkit diverge", ["quantity", "value", "stderr", f"{confidence:.0%} interval", "n"], [[est.quantity, est.value, est.stderr, ci, str(est.n)]])
