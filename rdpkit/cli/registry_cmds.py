"""`rdpkit plugins` and `rdpkit list`."""

from __future__ import annotations

import click

from ..registry import get_registry
from ..spec import KINDS
from . import cli
from .output import console, print_json, table


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: name, distribution, version, status, error, registered.")
def plugins_cmd(as_json: bool) -> None:
    """Installed plugins: where each comes from, what it registered, or why it failed."""
    records = get_registry().plugins
    if as_json:
        for r in records:
            print_json(r.as_dict())
        return
    rows = []
    for r in records:
        status = {"loaded": "[green]loaded[/]", "failed": "[red]failed[/]", "unavailable": "[yellow]unavailable[/]"}[r.status]
        what = r.error if r.status != "loaded" else ", ".join(r.registered) or "(nothing)"
        if r.problems:
            what += "\n[yellow]refused: " + "; ".join(r.problems) + "[/]"
        rows.append([r.name, r.distribution, r.version, status, what])
    table("rdpkit plugins", ["plugin", "distribution", "version", "status", "registered / error"], rows)


@cli.command("list")
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line with the full metadata.")
def list_cmd(kind: str | None, as_json: bool) -> None:
    """Registered distortions, divergences, codecs and critics (optionally of one KIND)."""
    infos = get_registry().infos(kind)
    if as_json:
        for i in infos:
            print_json(i.as_dict())
        return
    if not infos:
        console.print(f"no {kind or 'component'} is registered")
        return
    rows = [
        [i.kind, i.name, "yes" if i.differentiable else "no", i.weights or ("yes" if i.needs_weights else "no"), f"{i.distribution} {i.version}", i.summary]
        for i in infos
    ]
    table("rdpkit list", ["kind", "name", "differentiable", "weights", "from", "summary"], rows)
