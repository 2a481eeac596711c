"""The `rdpkit` command line. Each sub-command lives in a module of this package, named after it.

rdpkit's own errors end the command with their one-sentence message and exit status 2,
never a traceback.
"""

from __future__ import annotations

import sys

import click

from ..errors import RdpkitError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except RdpkitError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rdpkit")
def cli() -> None:
    """Perceptual metrics and codecs: a registry, a blind-spot test and rate-distortion-perception sweeps."""


from . import diverge, evaluate, recover, registry_cmds, score, sweep, theory  # noqa: F401  (they add their commands to `cli`)


def main() -> None:
    cli()
