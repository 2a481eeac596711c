"""The hooks rdpkit calls. Listing reads pyiqa's model table only; nothing is built or imported.

Factories are ``"rdpkit_pyiqa.metric:factories.<pyiqa name>"`` strings, so torch and pyiqa are
imported when somebody creates a metric, not when `rdpkit list` runs.
"""

from __future__ import annotations

import rdpkit

from .catalog import Entry, entries

CITATION = "Chen, Mo, Hou, Wu, Liao, Sun, Yan & Lin, TOPIQ: A top-down approach from semantics to distortions for image quality assessment, IEEE TIP 2024 (pyiqa toolbox)"
WEIGHTS = "torch hub cache (<torch hub dir>/pyiqa, <torch hub dir>/checkpoints) or Hugging Face cache, as pyiqa publishes them"


def _spec(e: Entry) -> rdpkit.Spec:
    return rdpkit.Spec(
        e.name,
        f"rdpkit_pyiqa.metric:factories.{e.pyiqa_name}",
        summary=e.summary,
        differentiable=e.differentiable,
        needs_weights=e.needs_weights,
        weights=WEIGHTS if e.needs_weights else "",
        citation=CITATION,
    )


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [_spec(e) for e in entries() if e.kind == "distortion"]


@rdpkit.hookimpl
def rdpkit_critics() -> list[rdpkit.Spec]:
    return [_spec(e) for e in entries() if e.kind == "critic"]
