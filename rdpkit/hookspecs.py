"""The hooks a plugin implements: one per kind (and one for sweep presets), no arguments, each returning a list of Spec.

A plugin module looks like::

    import rdpkit

    @rdpkit.hookimpl
    def rdpkit_distortions():
        return [rdpkit.Spec("my-metric", "my_plugin.metric:MyMetric", summary="...", differentiable=True)]

and is announced in its pyproject.toml under ``[project.entry-points.rdpkit]``.
"""

from __future__ import annotations

import pluggy

from .spec import Spec

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
}


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
