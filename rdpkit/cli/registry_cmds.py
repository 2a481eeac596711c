"""`rdpkit plugins` and `rdpkit list`."""

from __future__ import annotations

from collections import Counter

import click
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..errors import AmbiguousNameError, RdpkitError
from ..hookspecs import HOOKS
from ..registry import PluginRecord, Registry, get_registry
from ..spec import Info
from . import cli
from .common import JSON_HELP, Choice, quiet_option
from .output import console, print_json

#: Words in a licence that restrict how its software may be used: such a dependency is named beside the plugin's own licence.
RESTRICTIVE = ("noncommercial", "non-commercial", "polyform", "commons clause", "proprietary", "cc-by-nc")


def _own_licence(distribution: str) -> str:
    import importlib.metadata as md

    try:
        meta = md.metadata(distribution)
    except md.PackageNotFoundError:
        return "?"
    text = meta.get("License-Expression") or meta.get("License") or ""
    if not text or len(text) > 60:  # some distributions paste the whole licence text
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        text = ", ".join(classifiers) or (text.splitlines()[0][:60] if text else "not stated")
    return text


def licence(distribution: str) -> str:
    """The licence a distribution's metadata states, and any direct dependency whose licence restricts use
    (a plugin under MIT that installs a non-commercial library is not free to use commercially)."""
    import importlib.metadata as md
    import re

    own = _own_licence(distribution)
    try:
        requires = md.requires(distribution) or []
    except md.PackageNotFoundError:
        return own
    notes = []
    for requirement in requires:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]
        theirs = _own_licence(name)
        if any(word in theirs.lower() for word in RESTRICTIVE):
            notes.append(f"{name}: {theirs}")
    return own + (f" (installs {'; '.join(notes)})" if notes else "")


def _registered(r: PluginRecord, verbose: bool) -> str:
    if r.status != "loaded":
        return r.error
    if not r.registered:
        return "(nothing)"
    if verbose:
        return ", ".join(r.registered)
    counts = Counter(item.split(":", 1)[0] for item in r.registered)
    return ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in counts.items())


@cli.command("plugins")
@click.option("--verbose", "-v", is_flag=True, help="Name every registered component instead of counting them per kind.")
@quiet_option("Plugin names only, one per line.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " Fields: name, distribution, version, licence, status, error, registered, problems.")
def plugins_cmd(verbose: bool, quiet: bool, as_json: bool) -> None:
    """Installed plugins: where each comes from, under which licence, what it registered, or why it failed."""
    registry = get_registry()
    registry.commands()  # so that a plugin whose command hook raises is listed as failed too
    records = registry.plugins
    if as_json:
        for r in records:
            print_json({**r.as_dict(), "licence": licence(r.distribution)})
        return
    if quiet:
        for r in records:
            console.print(r.name, markup=False, highlight=False, soft_wrap=True)
        return
    # One block per plugin rather than a table: the lists of names wrap between names, at any width, never inside one.
    for r in records:
        status = {"loaded": "[green]loaded[/]", "failed": "[red]failed[/]", "unavailable": "[yellow]unavailable[/]"}[r.status]
        console.print(f"[bold]{escape(r.name)}[/] ({escape(r.distribution)} {escape(r.version)}, {escape(licence(r.distribution))}): {status}", highlight=False)
        console.print(Padding(Text(_registered(r, verbose), style="red" if r.status == "failed" else ""), (0, 0, 0, 4)))
        if r.problems:
            console.print(Padding(Text("problems: " + "; ".join(r.problems), style="yellow"), (0, 0, 0, 4)))


def _quantity(registry: Registry, info: Info) -> str | None:
    """What a divergence's value is (W1, KL (nats), ...), read from its class without creating it."""
    try:
        quantity = getattr(registry.factory(info), "quantity", None)
        if not isinstance(quantity, str):  # decided per instance (W1 or W2 by an option): ask one with the defaults
            quantity = registry.create("divergence", info.qualified_name).quantity
        return quantity or None
    except RdpkitError:  # a plugin that cannot be imported or built: `rdpkit plugins` says why
        return None


def _feature_kind(registry: Registry, info: Info) -> str | None:
    """What a feature extractor's features are (pretrained, hand-crafted, ...), read from its class without creating it where it can be."""
    try:
        kind = getattr(registry.factory(info), "feature_kind", None)
        if not isinstance(kind, str):  # decided per instance (a property): ask one with the defaults
            kind = registry.create("features", info.qualified_name).feature_kind
        return kind or None
    except RdpkitError:  # a plugin that cannot be imported or built: `rdpkit plugins` says why
        return None


def _asked_as(registry: Registry, info: Info) -> str:
    """The name that reaches this component: bare where it does, else distribution:name."""
    try:
        return info.name if registry.info(info.kind, info.name) == info else info.qualified_name
    except AmbiguousNameError:
        return info.qualified_name


@cli.command("list")
@click.argument("kind", required=False, type=Choice(list(HOOKS)))
@quiet_option("Names only (as you pass them to commands), one per line, without notes.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " Each object is a component's full metadata (a divergence's with its quantity, a feature extractor's with its feature_kind).")
def list_cmd(kind: str | None, quiet: bool, as_json: bool) -> None:
    """Registered distortions, divergences, codecs and critics (or one KIND, presets included): one line each."""
    registry = get_registry()
    infos = registry.infos(kind)
    if as_json:
        for i in infos:
            extra = {"quantity": _quantity(registry, i)} if i.kind == "divergence" else {"feature_kind": _feature_kind(registry, i)} if i.kind == "features" else {}
            print_json({**i.as_dict(), **extra})
        return
    if quiet:
        for i in infos:
            console.print(_asked_as(registry, i), markup=False, highlight=False, soft_wrap=True)
        return
    if infos:
        _print_infos(registry, infos)
    else:
        console.print(f"no {kind or 'component'} is registered")
    records = registry.plugins
    broken = [r for r in records if r.status != "loaded"]
    if broken:
        console.print(f"[yellow]{len(broken)} plugin(s) did not load ({escape(', '.join(r.name for r in broken))}); `rdpkit plugins` says why.[/]")
    for r in records:
        for problem in r.problems:
            console.print(f"[yellow]note: plugin {escape(r.name)} ({escape(r.distribution)}): {escape(problem)}[/]")


#: The fewest characters of summary that make the distribution column worth its room.
_SUMMARY_ROOM = 40


def _print_infos(registry: Registry, infos: list[Info]) -> None:
    """One line per component under a heading per kind: names and distributions whole, summaries cut to the window
    (a table that folds every cell made a name such as charbonnier into two lines and the list 1,900 lines long at 80 columns)."""
    names = {i: _asked_as(registry, i) for i in infos}
    rows = {i: ["  " + names[i], "yes" if i.differentiable else "no", "yes" if i.needs_weights else "no", i.distribution] for i in infos}
    headers = ["name", "grad", "weights", "from"]  # grad: whether gradients flow (a short header leaves the summary room)
    # Widths as rich lays them out: the widest cell per column, plus a space between columns.
    widths = [max(len(h), *(len(row[k]) for row in rows.values())) + 1 for k, h in enumerate(headers)]
    show_from = console.width - sum(widths) >= _SUMMARY_ROOM
    t = Table(box=None, pad_edge=False, show_edge=False, title="rdpkit list", title_justify="left")
    for header in headers[:3]:
        t.add_column(header, no_wrap=True)
    t.add_column("summary")  # the one column that gives way: each cell is cut with an ellipsis, never folded
    if show_from:
        t.add_column("from", no_wrap=True)
    kinds = list(dict.fromkeys(i.kind for i in infos))
    for k in kinds:
        t.add_row(Text(k, style="bold"), end_section=False)
        for i in (i for i in infos if i.kind == k):
            name, grad, weights, distribution = rows[i]
            t.add_row(name, grad, weights, Text(i.summary, no_wrap=True, overflow="ellipsis"), *([distribution] if show_from else []))
    console.print(t)
    console.print("`rdpkit list --json` gives every field in full" + ("" if show_from else ", and where each comes from") + ".", highlight=False)
