"""The hooks a plugin implements: one per kind (and one for sweep presets), no arguments, each returning a list of Spec;
and one, `rdpkit_commands(cli)`, through which a plugin adds its commands to the `rdpkit` command line.

A plugin module looks like::

    import rdpkit

    @rdpkit.hookimpl
    def rdpkit_distortions():
        return [rdpkit.Spec("my-metric", "my_plugin.metric:MyMetric", summary="...", differentiable=True)]

and is announced in its pyproject.toml under ``[project.entry-points.rdpkit]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from .spec import Spec

if TYPE_CHECKING:
    import click

PROJECT = "rdpkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: kind -> hook name
HOOKS = {
    "distortion": "rdpkit_distortions",
    "divergence": "rdpkit_divergences",
    "codec": "rdpkit_codecs",
    "critic": "rdpkit_critics",
    "features": "rdpkit_feature_extractors",
    "preset": "rdpkit_sweep_presets",
    "layout": "rdpkit_dataset_layouts",
}
#: The hook that adds commands under `rdpkit` (it takes the click group, and returns nothing).
COMMANDS = "rdpkit_commands"
#: Every hook rdpkit calls; a plugin that implements another name is refused.
HOOK_NAMES = (*HOOKS.values(), COMMANDS)


@hookspec
def rdpkit_distortions() -> list[Spec]:
    """Full-reference distortions Δ(x, x̂) this plugin provides."""


@hookspec
def rdpkit_divergences() -> list[Spec]:
    """Divergence (perception-index) estimators this plugin provides."""


@hookspec
def rdpkit_codecs() -> list[Spec]:
    """Codecs this plugin provides."""


@hookspec
def rdpkit_critics() -> list[Spec]:
    """No-reference critics this plugin provides."""


@hookspec
def rdpkit_feature_extractors() -> list[Spec]:
    """Feature extractors (images → N×F) this plugin provides, for FID, KID and MMD on images."""


@hookspec
def rdpkit_sweep_presets() -> list[Spec]:
    """Sweep presets this plugin provides (``rdpkit sweep --preset NAME``).

    Each Spec's factory takes no argument and returns the sweep as a dict with the tables of a
    sweep file (``{"sweep": ..., "data": ..., "codec": [...], "evaluate": ...}``).
    """


@hookspec
def rdpkit_dataset_layouts() -> list[Spec]:
    """Dataset layouts this plugin provides: ``NAME:PATH`` names a downloaded dataset everywhere a dataset is asked for.

    Each Spec's factory takes the text after the colon (the folder) and returns an
    `rdpkit.datasets.Dataset` listing the images, or raises `rdpkit.InputError` with one
    sentence naming what is missing (``kodak:PATH`` refuses a folder without kodim01–24).
    """


@hookspec
def rdpkit_commands(cli: click.Group) -> None:
    """Add this plugin's commands to `cli`, the `rdpkit` click group (``rdpkit NAME ...``).

    Called when the command line looks for a command that is not rdpkit's own (and for
    ``rdpkit --help`` and ``rdpkit plugins``), never on ``import rdpkit``. Import the
    command's module inside the hook, so that listing plugins stays fast::

        @rdpkit.hookimpl
        def rdpkit_commands(cli):
            from .cli import main
            cli.add_command(main, "my-plugin")

    rdpkit's own commands keep their names: a plugin command of the same name is not reachable.
    """
