"""What every command shares: output flags, the store, executors, and components with options.

- ``--quiet``/``-q``: no progress bars (they are drawn on stderr, and only when it is a terminal); commands
  without progress print less instead (`rdpkit list -q`: the names alone);
- ``--json``: JSON Lines on stdout, one object per line, instead of tables;
- ``--store PATH``: the result store, named the same way by every command that has one;
- ``--executor``, ``--workers``, ``--address``: where trials run (rdpkit.trial);
- components are written ``NAME[,KEY=VALUE...]`` (rdpkit.options), e.g.
  ``--distortion lpips-alex,pretrained=false``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors import suggestion
from ..options import TRUST_ENV

F = Callable[..., Any]
COMPONENT_HELP = "NAME[,KEY=VALUE...], e.g. lpips-alex,pretrained=false"
JSON_HELP = "Print JSON Lines (one JSON object per line) on stdout instead of tables."


class Choice(click.Choice):
    """click's Choice, whose refusal of a value also names the closest choices (`rdpkit list divergences`)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            hint = suggestion(str(value), [str(c) for c in self.choices])
            if not hint:
                raise
            self.fail(f"{value!r} is not one of {', '.join(repr(str(c)) for c in self.choices)}; {hint}", param, ctx)


def _apply(f: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        f = option(f)
    return f


def quiet_option(help: str = "No progress bars.") -> Callable[[F], F]:
    """--quiet/-q, which every command takes; `help` says what it leaves out where there are no progress bars."""
    return click.option("--quiet", "-q", is_flag=True, help=help)


def output_options(f: F) -> F:
    """--quiet and --json."""
    return _apply(f, [
        quiet_option(),
        click.option("--json", "as_json", is_flag=True, help=JSON_HELP),
    ])


def progress(quiet: bool) -> bool:
    """Progress bars unless --quiet, and only where a person watches stderr."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """What a command finds up front (a skipped image, too few patches) as one ``warning:`` line on stderr as it is found,
    not a Python warning with its source line."""
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_: click.secho(f"warning: {message}", fg="yellow", err=True)
        yield


def store_option(default: str | None, what: str) -> Callable[[F], F]:
    """--store PATH (required when there is no default)."""
    return click.option("--store", default=default, required=default is None, show_default=default is not None,
                        type=click.Path(dir_okay=False, path_type=Path), help=f"Result store (SQLite file) {what}.")


def executor_options(f: F) -> F:
    """--executor, --workers, --address."""
    from ..trial import EXECUTORS

    return _apply(f, [
        click.option("--executor", type=Choice(EXECUTORS), default=None,
                     help="Where trials run: local (a process pool), ray (a Ray cluster), inline (this process) [default: local; inline for a single task]."),
        click.option("--workers", type=click.IntRange(min=1), help="Tasks at a time [default: one per CPU core, or one per GPU]."),
        click.option("--address", help="Address of an existing Ray cluster (with --executor ray); without it a local one is started."),
    ])


def images_option(default: str) -> Callable[[F], F]:
    """--image, repeatable: image sources (rdpkit.data.Source), each one image or several; `default` as the help shows it."""
    return click.option("--image", "images", multiple=True,
                        help=f"Image source, repeatable: builtin:NAME,NAME,..., a folder or a PNG/JPEG file [default: {default}].")


def device_option(f: F) -> F:
    return click.option("--device", default="auto", show_default=True, help="Torch device: auto (a GPU when there is one), cpu, cuda, cuda:N.")(f)


def _trust(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        os.environ[TRUST_ENV] = "1"
    return value


def trust_code_option(f: F) -> F:
    """--trust-code: let options name Python code to import and run, for configurations the user wrote or checked."""
    return click.option("--trust-code", is_flag=True, expose_value=False, callback=_trust,
                        help="Let component options import and run the code they name (compressai-model,model=\"package.module:callable\"); "
                             "only for a configuration you wrote or checked: without it, models come from installed distributions only.")(f)
