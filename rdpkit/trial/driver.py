"""The one harness driver: validate trials, run those the store lacks, read every result back.

Every harness (the sweep, the recovery audit, `evaluate`) calls `drive`, so they share one
policy for what a store already holds:

- a rerun continues: trials the store holds finished are read back, not run again; a trial
  a killed run left half-done is run again from scratch; a trial another live process is
  running is waited for, never run twice. A store that holds some of the trials is therefore
  never refused: a trial's key hashes everything that decides its result;
- a failed trial is run again by the next run (a fixed plugin, installed weights, more
  memory), and its error stays in the store until then;
- `force` forgets what the store holds of these trials (and of no others), so they all run again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ..store import Store
from .base import SHAPE_ERRORS, Result, Trial
from .executors import check_executor
from .runner import RunSummary, run_trials

if TYPE_CHECKING:
    from ..registry import Registry

T = TypeVar("T", bound=Trial)


@dataclass
class Driven(Generic[T]):
    """What `drive` gives back: the distinct trials in order, each one's result or why it failed, and the run's summary."""

    trials: list[T]
    summary: RunSummary
    results: dict[str, Result] = field(default_factory=dict)  # key → result, read back through the trial's result type
    failures: dict[str, str] = field(default_factory=dict)  # key → one sentence (a plugin's traceback stays in the store)

    def result(self, trial: Trial) -> Result | None:
        return self.results.get(trial.key)

    def failure(self, trial: Trial) -> str | None:
        return self.failures.get(trial.key)

    def finished(self) -> list[tuple[T, Result]]:
        """The trials that have a result, with it, in order."""
        return [(t, self.results[t.key]) for t in self.trials if t.key in self.results]


@contextmanager
def _opened(store: Store | str | os.PathLike[str]) -> Iterator[Store]:
    """`store` itself when it is open; else the store at that path, closed afterwards."""
    if isinstance(store, Store):
        yield store
        return
    with Store(store) as db:
        yield db


def drive(
    trials: Sequence[T],
    store: Store | str | os.PathLike[str],
    *,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    threads: int | None = None,
    force: bool = False,
    progress: bool = True,
    desc: str = "trials",
    registry: Registry | None = None,
) -> Driven[T]:
    """Validate `trials`, run those `store` does not hold finished (the module docstring's policy), read all back.

    Every trial is validated (`Trial.validate`) before the store is opened, and every trial about
    to run checked (`Trial.check_ready`) before any runs, so bad input is refused before anything
    runs or is written. `registry`: the plugins trials are built from
    (None: the installed ones); `executor`, `workers`, `address`, `threads`: where they run
    (see `run_trials`).
    """
    from ..registry import get_registry

    check_executor(executor, workers, address)
    unique = list({t.key: t for t in trials}.values())
    checking = registry or get_registry()
    for t in unique:
        t.validate(checking)
    new_store = not isinstance(store, Store) and not Path(store).exists()
    if new_store:  # every trial runs: checked before the store is created, so a refusal leaves no empty store behind
        for t in unique:
            t.check_ready(checking)
    with _opened(store) as db:
        if force or any(db.status(t.key) != "done" for t in unique):
            db.check_writable()  # work to do: a store that takes no write is refused now, not when the first result is stored
        for t in unique:  # what only a built component tells, for the trials about to run (a finished one is read back)
            if not new_store and (force or db.status(t.key) != "done"):
                t.check_ready(checking)
        summary = run_trials(unique, db, executor=executor, workers=workers, address=address, threads=threads, force=force,
                             progress=progress, desc=desc, registry=registry)
        driven = Driven(unique, summary)
        for t in unique:
            found = _read_back(t, db)
            if isinstance(found, str):
                driven.failures[t.key] = found
            elif found is not None:
                driven.results[t.key] = found
    return driven


def _read_back(trial: Trial, db: Store) -> Result | str | None:
    """The trial's result as its result type reads it, or one sentence saying why there is none (None: not stored)."""
    row = db.get(trial.key)
    if row is None or row.status not in ("done", "failed"):
        return None
    if row.status == "failed":
        return (row.error or "it failed without an error message").splitlines()[0]
    try:
        result = type(trial).result_from_row(db, row)
    except SHAPE_ERRORS as exc:  # a record of another rdpkit, or damaged
        return f"its stored result does not read back ({type(exc).__name__}: {exc}); run it again with force."
    return result if result is not None else "the store holds it as finished but not its artifacts; run it again with force."
