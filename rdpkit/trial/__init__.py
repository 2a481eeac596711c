"""The trial layer under every harness: typed trials and results, one runner, its executors.

    from rdpkit.trial import drive
    driven = drive(trials, "results.sqlite", executor="ray")   # or "local" (default), "inline"
    driven.result(trials[0]), driven.failure(trials[0]), driven.summary

A harness adds a kind of trial by subclassing `Trial` and `Result` (see rdpkit.trial.base);
the recovery audit (`RecoveryTrial`), the RDP sweep and the P-D plane (`SweepTrial`) and
`evaluate` (`EvaluateTrial`) do. `drive` (rdpkit.trial.driver) states the one policy for
trials a store already holds: reruns continue, failed trials run again, `force` starts afresh.
"""

from __future__ import annotations

from .base import Result, Trial, check_component, software_versions
from .driver import Driven, drive
from .executors import EXECUTORS, Executor, Outcome, Task, make_executor, run_task
from .runner import RunSummary, run_trials

__all__ = ["EXECUTORS", "Driven", "Executor", "Outcome", "Result", "RunSummary", "Task", "Trial", "check_component", "drive", "make_executor",
           "run_task", "run_trials", "software_versions"]
