"""Running a sweep: validate it, then hand its trials to the trial layer's runner.

A sweep killed at any moment resumes with `resume=True` (see rdpkit.trial.runner): finished
trials are skipped, a trial claimed by a process that is gone is run again from scratch, and a
trial that another live sweep is running is waited for, never run twice. A store that already
holds trials of the sweep is refused without `resume`, so two unrelated runs are never mixed
by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..registry import Registry, get_registry
from ..store import Store
from ..trial import RunSummary, run_trials
from ..trial.executors import check_executor
from .config import SweepConfig
from .trial import SweepTrial, sweep_grid

SweepSummary = RunSummary


def sweep_trials(config: SweepConfig, registry: Registry | None = None) -> dict[str, SweepTrial]:
    """The sweep's distinct trials by store key, in grid order."""
    return {t.key: t for t in sweep_grid(config, registry or get_registry())}


def run_sweep(
    config: SweepConfig,
    store: str | os.PathLike[str],
    *,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    retry_failed: bool = False,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
) -> RunSummary:
    """Run every trial of `config` that the store does not hold yet; see the module docstring.

    `executor`: ``local`` (default), ``ray`` or ``inline``; `force` runs every trial again.
    """
    reg = registry or get_registry()
    check_executor(executor, workers, address)
    config.validate(reg)
    trials = sweep_trials(config, reg)
    with Store(Path(store)) as db:
        statuses = {k: db.status(k) for k in trials}
        known = [k for k, s in statuses.items() if s is not None]
        if known and not (resume or force):
            done = sum(statuses[k] == "done" for k in known)
            raise InputError(f"the store {str(store)!r} already holds {len(known)} of this sweep's {len(trials)} trials ({done} done); pass --resume to continue the sweep, or choose another --store.")
        return run_trials(list(trials.values()), db, executor=executor or ("inline" if registry is not None else "local"), workers=workers,
                          address=address, threads=config.threads, force=force, retry_failed=retry_failed, progress=progress,
                          desc=config.name, registry=registry)
