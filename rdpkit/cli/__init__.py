"""The `rdpkit` command line. Each sub-command lives in a module of this package, named after it.

Plugins add their commands through the hook `rdpkit_commands` (``rdpkit learned-codecs train``,
``rdpkit pim train``). They are looked up only when a name is not one of rdpkit's own (or for
``--help``), so ``rdpkit list`` and the other built-in commands start as fast as before.

rdpkit's own errors end the command with their one-sentence message and exit status 2,
never a traceback.
"""

from __future__ import annotations

import sys

import click

from ..errors import RdpkitError


class _Group(click.Group):
    """rdpkit's commands, then those the plugins of the default registry add (rdpkit's own names win)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _plugin_commands().get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugin_commands()})

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except RdpkitError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group("rdpkit", cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rdpkit")
def cli() -> None:
    """Perceptual metrics and codecs: a registry, a blind-spot test and rate-distortion-perception sweeps."""


def _plugin_commands() -> dict[str, click.Command]:
    from ..registry import get_registry

    return get_registry().commands()


from . import diverge, evaluate, judge, recover, registry_cmds, score, sweep, theory  # noqa: F401  (they add their commands to `cli`)


def main() -> None:
    cli()
