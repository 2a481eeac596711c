"""`rdpkit plugins` and `rdpkit list`."""

from __future__ import annotations

from collections import Counter

import click
from rich.markup import escape

from ..errors import AmbiguousNameError, RdpkitError
from ..hookspecs import HOOKS
from ..registry import PluginRecord, Registry, get_registry
from ..spec import Info
from . import cli
from .common import JSON_HELP
from .output import console, print_json, table

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
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " Fields: name, distribution, version, licence, status, error, registered, problems.")
def plugins_cmd(verbose: bool, as_json: bool) -> None:
    """Installed plugins: where each comes from, under which licence, what it registered, or why it failed."""
    registry = get_registry()
    registry.commands()  # so that a plugin whose command hook raises is listed as failed too
    records = registry.plugins
    if as_json:
        for r in records:
            print_json({**r.as_dict(), "licence": licence(r.distribution)})
        return
    rows = []
    for r in records:
        status = {"loaded": "[green]loaded[/]", "failed": "[red]failed[/]", "unavailable": "[yellow]unavailable[/]"}[r.status]
        what = escape(_registered(r, verbose))
        if r.problems:
            what += "\n[yellow]problems: " + escape("; ".join(r.problems)) + "[/]"
        rows.append([r.name, r.distribution, r.version, licence(r.distribution), status, what])
    table("rdpkit plugins", ["plugin", "distribution", "version", "licence", "status", "registered / error"], rows)


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
@click.argument("kind", required=False, type=click.Choice(list(HOOKS)))
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " Each object is a component's full metadata (a divergence's with its quantity, a feature extractor's with its feature_kind).")
def list_cmd(kind: str | None, as_json: bool) -> None:
    """Registered distortions, divergences, codecs and critics (or one KIND, presets included)."""
    registry = get_registry()
    infos = registry.infos(kind)
    if as_json:
        for i in infos:
            extra = {"quantity": _quantity(registry, i)} if i.kind == "divergence" else {"feature_kind": _feature_kind(registry, i)} if i.kind == "features" else {}
            print_json({**i.as_dict(), **extra})
        return
    if infos:
        rows = [
            [i.kind, _asked_as(registry, i), "yes" if i.differentiable else "no",
             i.weights or ("yes" if i.needs_weights else "no"), f"{i.distribution} {i.version}", i.summary]
            for i in infos
        ]
        table("rdpkit list", ["kind", "name", "differentiable", "weights", "from", "summary"], rows)
    else:
        console.print(f"no {kind or 'component'} is registered")
    records = registry.plugins
    broken = [r for r in records if r.status != "loaded"]
    if broken:
        console.print(f"[yellow]{len(broken)} plugin(s) did not load ({escape(', '.join(r.name for r in broken))}); `rdpkit plugins` says why.[/]")
    for r in records:
        for problem in r.problems:
            console.print(f"[yellow]note: plugin {escape(r.name)} ({escape(r.distribution)}): {escape(problem)}[/]")
