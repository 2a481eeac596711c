"""`rdpkit diverge`: a divergence between two sample sets (image sources or .npy arrays), with its uncertainty."""

from __future__ import annotations

import click

from . import cli
from .common import output_options
from .output import console, print_json, table

#: Images are flattened into C·H·W features per sample; 64×64 keeps that dimension within what
#: the nearest-neighbour and transport estimators handle on a CPU.
DEFAULT_SIDE = 64


@cli.command("diverge")
@click.argument("divergence")
@click.option("--p", "p_source", required=True, help="Real samples: an image source (folder, builtin, builtin:NAME,..., digits) or a .npy file (N×D or N×C×H×W).")
@click.option("--q", "q_source", required=True, help="Other samples (e.g. a codec's outputs), same forms as --p.")
@click.option("--bootstrap", default=0, show_default=True, help="Bootstrap resamples for the interval (0: the estimator's own).")
@click.option("--confidence", default=0.95, show_default=True, help="Level of the interval.")
@click.option("--size", default=DEFAULT_SIDE, show_default=True, help="Side images are scaled and cropped to (they are flattened into C·size² features).")
@click.option("--gray", is_flag=True, help="Read images as gray.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@output_options
def diverge_cmd(divergence: str, p_source: str, q_source: str, bootstrap: int, confidence: float, size: int, gray: bool,
                seed: int, quiet: bool, as_json: bool) -> None:
    """Estimate DIVERGENCE (NAME[,KEY=VALUE...], e.g. wasserstein-sliced,projections=512) between the samples of --p and --q (see `rdpkit list divergence`)."""
    from ..data import load_samples
    from ..options import Component

    component = Component.parse(divergence, what="divergence")
    div = component.create("divergence")
    p = load_samples(p_source, size=None if p_source == "digits" else size, gray=gray)
    q = load_samples(q_source, size=None if q_source == "digits" else size, gray=gray)
    est = div.estimate(p, q, bootstrap=bootstrap, confidence=confidence, seed=seed)
    if as_json:
        print_json({"divergence": str(component), **est.as_dict(), "info": div.info.as_dict(), "p": p_source, "q": q_source})
        return
    ci = f"[{est.ci[0]:.4g}, {est.ci[1]:.4g}]" if est.ci else "-"
    console.print(f"[bold]{component}[/]: {div.info.summary}")
    table("rdpkit diverge", ["quantity", "value", "stderr", f"{confidence:.0%} interval", "interval method", "n"],
          [[est.quantity, est.value, est.stderr, ci, est.details.get("ci_method", "-"), str(est.n)]])
