"""What plugins' commands share: the line their old script names print, the record of a training run, and `Choice`,
click's Choice that names the closest choice when a value is not one of them (as every rdpkit command's does).

A plugin's command group joins `rdpkit` through the hook `rdpkit_commands`; its former console
script points at `renamed(...)`, which says the new name on stderr and runs it:

    [project.scripts]
    rdpkit-pim = "rdpkit_pim.cli:script"          # script = renamed("rdpkit-pim", "pim")
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import click

from ..trial.base import software_versions
from .common import Choice

__all__ = ["Choice", "renamed", "run_record"]


def renamed(old: str, command: str) -> Callable[[], None]:
    """The entry of console script `old`, whose commands are now `rdpkit COMMAND ...`: one line on stderr, then those commands."""

    def script() -> None:
        click.echo(f"{old} is now `rdpkit {command}`", err=True)
        from . import cli

        cli.main(args=[command, *sys.argv[1:]], prog_name="rdpkit")

    return script


def _option_words(param: click.Option, value: Any) -> list[str]:
    name = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    if param.is_flag:
        if param.secondary_opts:
            return [name] if value else [param.secondary_opts[0]]
        return [name] if value else []
    values = value if param.multiple else [value]
    return [word for v in values for word in (name, str(v))]


def command_line(ctx: click.Context | None = None) -> str:
    """The running command as it can be typed again: its path (``rdpkit pim train``) and the options given, not their defaults."""
    ctx = ctx or click.get_current_context()
    words = ctx.command_path.split()
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        if source not in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT):
            continue
        value = ctx.params[param.name]
        words += _option_words(param, value) if isinstance(param, click.Option) else [str(v) for v in (value if param.multiple else [value])]
    return shlex.join(words)


def run_record(started: float, distributions: Sequence[str]) -> dict[str, Any]:
    """The fields every record of a model trained by a command holds besides its own: the command, torch's threads,
    the total wall time since `started` (a `time.perf_counter()`), when it finished, and the software versions."""
    import torch

    return {
        "command": command_line(),
        "threads": torch.get_num_threads(),
        "total_wall_s": round(time.perf_counter() - started, 1),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": software_versions(distributions),
    }
