"""Running a sweep: validate, claim each trial in the store, run it on an executor, record it.

The store is the single source of truth. A trial is claimed just before it is submitted and
finished (atomically, with its artifacts) when its outcome comes back, so a sweep killed at
any moment resumes with `resume=True`: finished trials are skipped, a trial claimed by a
process that is gone is run again from scratch, and a trial that another live sweep is
running is waited for, never run twice.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..registry import Registry, get_registry
from ..store import Store, config_key
from .config import SweepConfig
from .executors import make_executor
from .trial import KIND

#: Seconds between looks at trials that another live process is running.
POLL_SECONDS = 1.0


@dataclass
class SweepSummary:
    """What one call of `run_sweep` did."""

    trials: int  # distinct trials in the sweep
    already_done: int  # finished before this call
    ran: int  # finished by this call
    failed: int  # failed in this call
    by_others: int  # finished meanwhile by another process writing the same store
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def sweep_trials(config: SweepConfig) -> dict[str, dict[str, Any]]:
    """The sweep's distinct trials by store key, in grid order."""
    return {config_key(t): t for t in config.trials()}


def run_sweep(
    config: SweepConfig,
    store: str | os.PathLike[str],
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
) -> SweepSummary:
    """Run every trial of `config` that the store does not hold yet; see the module docstring."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    config.validate(registry or get_registry())
    trials = sweep_trials(config)
    with Store(Path(store)) as db:
        statuses = {k: db.status(k) for k in trials}
        known = [k for k, s in statuses.items() if s is not None]
        if known and not resume:
            done = sum(statuses[k] == "done" for k in known)
            raise InputError(f"the store {str(store)!r} already holds {len(known)} of this sweep's {len(trials)} trials ({done} done); pass --resume to continue the sweep, or choose another --store.")
        already = sum(s == "done" for s in statuses.values())
        queue = deque(k for k, s in statuses.items() if s != "done" and (s != "failed" or retry_failed))
        summary = SweepSummary(len(trials), already, 0, 0, 0, 0.0)
        if not queue:
            summary.seconds = time.perf_counter() - start
            return summary
        bar = tqdm(total=len(queue), desc=config.name, unit="trial", disable=not progress)
        with make_executor(executor, workers=workers, address=address, device=config.device, threads=config.threads) as ex:
            in_flight: dict[Any, str] = {}
            elsewhere: list[str] = []
            while queue or in_flight or elsewhere:
                while queue and len(in_flight) < ex.slots:
                    key = queue.popleft()
                    if db.claim(key, KIND, trials[key], retry_failed=retry_failed):
                        in_flight[ex.submit(trials[key], config.threads, config.device)] = key
                    elif db.status(key) == "running":
                        elsewhere.append(key)
                    else:  # finished by another process since we looked
                        summary.by_others += 1
                        bar.update()
                if in_flight:
                    for handle, outcome in ex.wait(list(in_flight)):
                        key = in_flight.pop(handle)
                        if outcome.error is None:
                            db.finish(key, {"key": key, **(outcome.result or {})}, outcome.artifacts)
                            summary.ran += 1
                        else:
                            db.fail(key, outcome.error)
                            summary.failed += 1
                            bar.write(f"trial {key} failed: {outcome.error.splitlines()[0]}")
                        bar.update()
                elif elsewhere:
                    time.sleep(POLL_SECONDS)
                    queue.extend(elsewhere)
                    elsewhere.clear()
        bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
