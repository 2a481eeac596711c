"""The trial layer under every harness: typed trials and results, one runner, its executors.

    from rdpkit.trial import run_trials
    from rdpkit.store import Store
    with Store("results.sqlite") as store:
        summary = run_trials(trials, store, executor="ray")   # or "local" (default), "inline"
        results = [t.load(store) for t in trials]

A harness adds a kind of trial by subclassing `Trial` and `Result` (see rdpkit.trial.base);
the recovery audit (`RecoveryTrial`), the RDP sweep and the P-D plane (`SweepTrial`) do.
"""

from __future__ import annotations

from .base import Result, Trial, software_versions
from .executors import EXECUTORS, Executor, Outcome, Task, make_executor, run_task
from .runner import RunSummary, run_trials

__all__ = ["EXECUTORS", "Executor", "Outcome", "Result", "RunSummary", "Task", "Trial", "make_executor", "run_task", "run_trials", "software_versions"]
