"""Running a sweep: validate it, then hand its trials to the trial layer's driver.

A rerun of a sweep on the same store continues it, as every harness does (rdpkit.trial.driver):
finished trials are skipped, a trial claimed by a process that is gone and a trial that failed
are run again, and a trial that another live sweep is running is waited for, never run twice.
`force` runs every trial of the sweep again.
"""

from __future__ import annotations

import os
import warnings

from ..registry import Registry, get_registry
from ..store import Store
from ..trial import RunSummary, drive
from .config import SweepConfig
from .trial import SweepTrial, sweep_grid

SweepSummary = RunSummary


def sweep_trials(config: SweepConfig, registry: Registry | None = None) -> dict[str, SweepTrial]:
    """The sweep's distinct trials by store key, in grid order."""
    return {t.key: t for t in sweep_grid(config, registry or get_registry())}


def run_sweep(
    config: SweepConfig,
    store: Store | str | os.PathLike[str],
    *,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
    resume: bool = False,
    retry_failed: bool = False,
) -> RunSummary:
    """Run every trial of `config` that the store does not hold finished; see the module docstring.

    `executor`: ``local``, ``ray`` or ``inline`` (see `rdpkit.trial.run_trials`); `force` runs
    every trial again. `resume` and `retry_failed` were options before every harness shared one
    policy; they are accepted (with a DeprecationWarning when set) so that older scripts keep working.
    """
    if resume or retry_failed:
        warnings.warn("run_sweep resumes and retries failed trials on every run; leave out resume= and retry_failed=.",
                      DeprecationWarning, stacklevel=2)
    reg = registry or get_registry()
    config.validate(reg)
    trials = sweep_trials(config, reg)
    return drive(list(trials.values()), store, executor=executor, workers=workers, address=address, threads=config.threads,
                 force=force, progress=progress, desc=config.name, registry=registry).summary
