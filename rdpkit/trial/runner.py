"""The one runner: claim → run → finish → resume, for trials of any kind, on any executor.

The store is the single source of truth. A trial is claimed just before it is submitted and
finished (atomically, with its artifacts) when its record comes back, so a run killed at any
moment resumes: finished trials are skipped, a trial claimed by a process that is gone is run
again from scratch, a trial that failed is run again, and a trial that another live process
is running is waited for, never run twice. ``force`` forgets the stored trials first
(`Store.reset`), so they run again. Harnesses call it through `rdpkit.trial.driver.drive`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..store import Store
from .base import Trial
from .executors import Task, in_process, make_executor

if TYPE_CHECKING:
    from ..registry import Registry

#: Seconds between looks at trials that another live process is running.
POLL_SECONDS = 1.0


@dataclass
class RunSummary:
    """What one call of `run_trials` did."""

    trials: int  # distinct trials asked for
    already_done: int  # finished before this call
    ran: int = 0  # finished by this call
    failed: int = 0  # failed in this call
    by_others: int = 0  # finished meanwhile by another process writing the same store
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)  # key → error, for the trials that failed now

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "errors"}


def _groups(trials: Sequence[Trial], limit: int | None) -> deque[list[Trial]]:
    """Trials of one group together, in order of first appearance, at most `limit` per task."""
    by_group: dict[str, list[Trial]] = {}
    for t in trials:
        by_group.setdefault(t.group(), []).append(t)
    out: deque[list[Trial]] = deque()
    for members in by_group.values():
        step = limit or len(members)
        out.extend(members[i : i + step] for i in range(0, len(members), step))
    return out


def run_trials(
    trials: Sequence[Trial],
    store: Store,
    *,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    threads: int | None = None,
    force: bool = False,
    progress: bool = True,
    desc: str = "trials",
    registry: Registry | None = None,
) -> RunSummary:
    """Run every trial that `store` does not hold finished yet, and record each result there.

    `executor`: ``local`` (a process pool of `workers`, default one per core), ``ray`` (a local
    cluster, or the one at `address`), ``inline`` (this process, with `registry`); None means
    inline when a `registry` other than the installed plugins' is given (its in-process plugins
    cannot reach other processes) or when a single task is left to run, else local.
    `threads`: torch threads per task. Failed trials are run again.
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    unique = list({t.key: t for t in trials}.values())
    if force:
        for t in unique:
            if store.status(t.key) != "running" or not store.owner_alive(t.key):
                store.reset(t.key)
    statuses = {t.key: store.status(t.key) for t in unique}
    todo = [t for t in unique if statuses[t.key] != "done"]
    summary = RunSummary(len(unique), sum(s == "done" for s in statuses.values()))
    if not todo:
        summary.seconds = time.perf_counter() - start
        return summary
    queue = _groups(todo, None)
    if executor is None:
        executor = "inline" if in_process(registry) or len(queue) == 1 else "local"
    if executor != "inline" and threads is None:
        threads = 1  # workers share the cores; inline, the caller's own setting stands unless one is asked for
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a positive number of torch threads per task, got {threads!r}.")
    inline = executor == "inline"
    bar = tqdm(total=len(todo), desc=desc, unit="trial", disable=not progress or None, leave=False)
    with make_executor(executor, workers=workers, address=address, threads=threads or 1, registry=registry) as ex:
        in_flight: dict[Any, list[Trial]] = {}
        elsewhere: list[Trial] = []
        while queue or in_flight or elsewhere:
            while queue and len(in_flight) < ex.slots:
                claimed = []
                for t in queue.popleft():
                    if store.claim(t.key, t.kind, t.identity(), retry_failed=True):
                        claimed.append(t)
                    elif store.status(t.key) == "running":
                        elsewhere.append(t)
                    else:  # finished by another process since we looked
                        summary.by_others += 1
                        bar.update()
                if claimed:
                    device = claimed[0].device
                    in_flight[ex.submit(Task(claimed, device, threads, progress and inline))] = claimed
            if in_flight:
                for handle, outcome in ex.wait(list(in_flight)):
                    group = in_flight.pop(handle)
                    if outcome.error is None:
                        for t, (record, artifacts) in zip(group, outcome.records):
                            store.finish(t.key, {"key": t.key, **record}, artifacts)
                        summary.ran += len(group)
                    else:
                        for t in group:
                            store.fail(t.key, outcome.error)
                            summary.errors[t.key] = outcome.error
                        summary.failed += len(group)
                        bar.write(f"{len(group)} trial(s) failed: {outcome.error.splitlines()[0]}")
                    bar.update(len(group))
            elif elsewhere:
                time.sleep(POLL_SECONDS)
                queue.extend([t] for t in elsewhere)
                elsewhere.clear()
    bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
