"""Rate-distortion-perception sweeps, their reports, BD-rate and the perception-distortion plane.

    >>> from rdpkit.sweep import SweepConfig, run_sweep, results_frame, write_report
    >>> config = SweepConfig.from_toml("sweep.toml")        # or rdpkit.sweep.preset("digits")
    >>> run_sweep(config, "results.sqlite", executor="ray")  # a rerun continues: nothing lost, nothing twice
    >>> df = results_frame("results.sqlite")                 # one row per trial
    >>> write_report("results.sqlite", "report/")            # figures + index.html

The command line mirrors it: ``rdpkit sweep``, ``rdpkit results``, ``rdpkit report``,
``rdpkit plane``. Every trial is a `SweepTrial` run by the trial layer (rdpkit.trial).
"""

from __future__ import annotations

from ..bdrate import (
    bd_distortion,
    bd_rate,
    bd_rate_at_perception,
    curve_at_perception,
    strictest_shared_perception,
)
from ..pareto import lower_envelope, non_dominated
from .config import SweepConfig
from .plane import (
    PlanePoint,
    load_matching,
    measure,
    plane_frame,
    plane_trials,
    write_plane,
)
from .presets import preset, presets
from .report import results_frame, settings_frame, write_report
from .runner import SweepSummary, run_sweep, sweep_trials
from .trial import SweepResult, SweepTrial

__all__ = [
    "PlanePoint",
    "SweepConfig",
    "SweepResult",
    "SweepSummary",
    "SweepTrial",
    "bd_distortion",
    "bd_rate",
    "bd_rate_at_perception",
    "curve_at_perception",
    "load_matching",
    "lower_envelope",
    "measure",
    "non_dominated",
    "plane_frame",
    "plane_trials",
    "preset",
    "presets",
    "results_frame",
    "run_sweep",
    "settings_frame",
    "strictest_shared_perception",
    "sweep_trials",
    "write_plane",
    "write_report",
]
