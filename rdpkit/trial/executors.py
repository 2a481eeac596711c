"""Where trials run: in the calling process, on a local process pool, or as Ray tasks.

An executor only computes: it takes a `Task` (trials of one group and a device) and gives
back an `Outcome` holding each trial's stored record. The process that owns the store claims
each trial before submitting it and writes its record when it comes back, so resuming skips
finished trials the same way on every executor, and Ray workers on other machines need no
access to the store.

Pool workers exit when the process that owns the store dies, even by SIGKILL (on Linux a
parent-death signal; elsewhere a thread that watches the parent), so a killed run leaves no
orphan behind. A local Ray cluster started for the run is stopped when the run ends; after a
SIGKILL nothing of the run can stop it, and Ray's own processes (its raylet, GCS server and
agents, two agents the longest) notice the dead driver and exit by themselves within 30 to 90
seconds: `ray stop` ends them at once. A cluster given with `--address` is never stopped.

GPU placement: on a machine with GPUs the local pool runs one task per GPU at a time, each on
its own device; Ray gives each task a GPU share and the device Ray assigned it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import tempfile
import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError, RdpkitError, suggestion
from .base import Artifacts, Record, Trial

if TYPE_CHECKING:
    from ..registry import Registry

EXECUTORS = ("local", "ray", "inline")


@dataclass
class Task:
    """Trials of one group, run together on one device with `threads` torch threads (None: leave as is)."""

    trials: Sequence[Trial]
    device: str
    threads: int | None = None
    progress: bool = False


@dataclass
class Outcome:
    """A task's stored records (one per trial, in order), or why it failed."""

    records: list[tuple[Record, Artifacts]] = field(default_factory=list)
    error: str | None = None


def run_task(task: Task, registry: Registry | None = None) -> Outcome:
    """Run a task; never raises: a failure comes back as `Outcome.error` (a plugin's bug with its traceback)."""
    from ..registry import get_registry
    from ..validation import resolve_device

    try:
        if task.threads is not None:
            import torch

            torch.set_num_threads(task.threads)
        trials = list(task.trials)
        results = type(trials[0]).run_group(trials, resolve_device(task.device), registry or get_registry(), task.progress)
        return Outcome(records=[r.to_record() for r in results])
    except RdpkitError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


def _local_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class Executor(ABC):
    """Runs tasks concurrently, at most `slots` at a time."""

    slots: int

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def submit(self, task: Task) -> Any:
        """Start one task; returns a handle for `wait`."""

    @abstractmethod
    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        """Block until at least one of `handles` is done; return every finished (handle, outcome)."""

    def close(self) -> None:
        """Release workers (and a cluster started for the run)."""


class InlineExecutor(Executor):
    """Runs each task at once in the calling process (with the caller's registry): for one task, debugging and tests."""

    slots = 1

    def __init__(self, registry: Registry | None = None) -> None:
        self._registry = registry
        self._done: dict[int, Outcome] = {}
        self._next = 0

    def submit(self, task: Task) -> Any:
        self._next += 1
        self._done[self._next] = run_task(task, self._registry)
        return self._next

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        return [(h, self._done.pop(h)) for h in handles]


def _die_with_parent(parent: int) -> None:
    """Pool initialiser: end this worker when the process that started it ends."""
    import signal

    try:  # Linux: the kernel sends SIGKILL the moment the parent dies
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # everywhere, and for a parent that died before prctl took effect
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="rdpkit-parent-watch").start()


def _run_marked(task: Task, mark: str) -> Outcome:
    """`run_task` in a pool worker, once the worker's pid is written to `mark`: the parent tells by it which worker ran which task."""
    with open(mark, "w") as f:
        f.write(str(os.getpid()))
    return run_task(task)


@dataclass(eq=False)
class _Job:
    """A task on the local pool: the handle `LocalExecutor.submit` returns, kept when the task runs again on a fresh pool."""

    task: Task
    mark: str  # where the worker that starts the task writes its pid
    future: cf.Future[Outcome] | None = None
    runs: int = 0

    def worker(self) -> int | None:
        """The pid of the worker that started the task, or None when none did."""
        try:
            with open(self.mark) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None


def _death(exitcode: int) -> str:
    """How a worker ended, from its exit code: "killed by SIGKILL", "exit code 1"."""
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}" if -exitcode in signal.valid_signals() else f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class LocalExecutor(Executor):
    """A pool of fresh processes (spawned, so CUDA and threads start clean) that die with their parent.

    A worker that dies (killed, out of memory) breaks the whole pool, and the pool ends every other
    worker with it: only the task of the worker that died fails; the others run again on a fresh
    pool (a task whose worker dies under it `MAX_RUNS` times fails too).
    """

    #: How often a task runs before it fails for the deaths of workers around it.
    MAX_RUNS = 3

    def __init__(self, workers: int | None = None, *, threads: int = 1) -> None:
        gpus = _local_gpus()
        self._devices = [f"cuda:{i}" for i in range(gpus)] or ["cpu"]
        self.slots = workers if workers is not None else (gpus or max(1, (os.cpu_count() or 1) // threads))
        self._threads = threads
        self._pool = self._new_pool()
        self._workers: dict[int, Any] = {}  # pid → the pool's process, to read how each ended
        self._marks = tempfile.TemporaryDirectory(prefix="rdpkit-pool-")
        self._submitted = 0
        self._busy: dict[str, int] = dict.fromkeys(self._devices, 0)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.slots, mp_context=mp.get_context("spawn"), initializer=_die_with_parent, initargs=(os.getpid(),))

    def _pick(self, device: str) -> str:
        """The device with the fewest tasks running on it, for tasks that ask for ``auto``."""
        return min(self._devices, key=lambda d: self._busy[d]) if device == "auto" else device

    def _start(self, job: _Job) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(job.mark)
        job.runs += 1
        job.future = self._pool.submit(_run_marked, job.task, job.mark)
        self._workers.update(getattr(self._pool, "_processes", None) or {})  # spawned on submit

    def submit(self, task: Task) -> Any:
        device = self._pick(task.device)
        self._submitted += 1
        job = _Job(Task(task.trials, device, task.threads or self._threads, False), os.path.join(self._marks.name, str(self._submitted)))
        self._start(job)
        self._busy[device] = self._busy.get(device, 0) + 1
        return job

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        jobs: list[_Job] = list(handles)
        done, _ = cf.wait([j.future for j in jobs], return_when=cf.FIRST_COMPLETED)
        broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
        if broken:  # a worker died: the pool fails every task in it at once and ends the other workers
            self._pool.shutdown(wait=True, cancel_futures=True)  # all its futures settled, its workers joined (exit codes known)
            done = {j.future for j in jobs}
        out, lost = [], []
        for job in jobs:
            if job.future in done:
                if job.future.cancelled() or isinstance(job.future.exception(), BrokenProcessPool):  # type: ignore[union-attr]
                    lost.append(job)
                else:
                    out.append((job, job.future.result()))  # type: ignore[union-attr]
        if broken:
            out += self._recover(lost)
        for job, _ in out:
            self._busy[job.task.device] -= 1
        return out

    def _recover(self, lost: list[_Job]) -> list[tuple[_Job, Outcome]]:
        """After a worker died: fail the tasks whose worker died, run the others again on a fresh pool."""
        # The pool ends the workers that outlived the dead one with SIGTERM; any other end is a death.
        dead = {pid: p.exitcode for pid, p in self._workers.items() if p.exitcode not in (None, 0, -signal.SIGTERM)}
        self._pool, self._workers = self._new_pool(), {}
        failed = []
        for job in lost:
            pid = job.worker()
            if pid in dead or job.runs >= self.MAX_RUNS:
                why = _death(dead[pid]) if pid in dead else f"workers beside it died {job.runs} times"
                failed.append((job, Outcome(error=f"the worker running this trial died ({why})")))
            else:
                self._start(job)
        return failed

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._marks.cleanup()


class RayExecutor(Executor):
    """Ray tasks on a local cluster started for the run, or on the existing cluster at `address`.

    The local cluster is shut down by `close`; a run killed by SIGKILL leaves Ray's processes to
    exit by themselves, within 30 to 90 seconds (`ray stop` ends them at once).
    """

    def __init__(self, workers: int | None = None, *, address: str | None = None, threads: int = 1, gpus_per_task: float = 1.0) -> None:
        try:
            import ray
        except ImportError:
            raise InputError("the Ray executor needs ray; install it with pip install 'rdpkit[ray]', or use --executor local.") from None
        self._ray = ray
        self._owns_cluster = not ray.is_initialized()
        if self._owns_cluster:
            try:
                if address:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
                else:
                    # A small object store: trials move kilobytes, and this machine's memory is shared.
                    ray.init(num_cpus=workers * threads if workers else None, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING, object_store_memory=100 * 1024**2)
            except ConnectionError as exc:
                raise InputError(f"cannot reach the Ray cluster at {address!r} ({exc}); check the address (ray status prints it), or leave out --address to start a local one.") from None
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0)
        self._gpus = gpus_per_task if gpus else 0
        self.slots = workers or max(1, int(gpus / gpus_per_task) if gpus else int(resources.get("CPU", 1) // threads))
        self._threads = threads
        self._remote = ray.remote(run_task)

    def submit(self, task: Task) -> Any:
        wants_gpu = task.device == "auto" and self._gpus or task.device.startswith("cuda")
        # Ray sets CUDA_VISIBLE_DEVICES in the task, so its GPU is always "cuda".
        device = ("cuda" if wants_gpu else "cpu") if task.device == "auto" else task.device
        remote = self._remote.options(num_cpus=task.threads or self._threads, num_gpus=self._gpus if wants_gpu else 0, max_retries=0)
        return remote.remote(Task(task.trials, device, task.threads or self._threads, False))

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        ray, handles = self._ray, list(handles)
        ray.wait(handles, num_returns=1)
        ready, _ = ray.wait(handles, num_returns=len(handles), timeout=0)
        out = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref)))
            except ray.exceptions.RayError as exc:  # the worker or its node died
                out.append((ref, Outcome(error=f"the Ray task running this trial failed ({type(exc).__name__}: {exc})")))
        return out

    def close(self) -> None:
        if self._owns_cluster:
            self._ray.shutdown()


def check_executor(name: str | None, workers: int | None = None, address: str | None = None) -> None:
    """Refuse an unknown executor, a worker count below 1 or an address without Ray, before anything is created."""
    if name is not None and name not in EXECUTORS:
        raise InputError(f"unknown executor {name!r}; {suggestion(name, EXECUTORS) or 'use ' + ', '.join(EXECUTORS)}.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a positive number of processes, got {workers!r}; leave it out for one per core.")
    if address and name != "ray":
        raise InputError("--address is for the Ray executor; add --executor ray, or leave out --address.")
    if address:
        check_reachable(address)


#: Seconds a Ray address is given to accept a connection before the run is refused (ray.init itself retries for minutes).
PROBE_SECONDS = 3.0


def check_reachable(address: str) -> None:
    """Refuse a Ray address ``[ray://]HOST:PORT`` at which nothing accepts a connection, in one sentence and within
    seconds; ``auto``, ``local`` and other forms are left to Ray."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS):
            pass
    except ConnectionRefusedError:
        why = "nothing listens there"
    except OSError as exc:  # no such host, no route, a timeout
        why = exc.strerror or type(exc).__name__
    except (OverflowError, ValueError) as exc:  # a port beyond 65535
        why = str(exc)
    else:
        return
    raise InputError(f"no Ray cluster answers at {address!r} ({why}); start one with `ray start --head` and give the address it prints, "
                     "or leave out --address to start a local one.")


def make_executor(name: str, *, workers: int | None = None, address: str | None = None, threads: int = 1,
                  registry: Registry | None = None) -> Executor:
    """The executor called `name`: ``local`` (a process pool), ``ray`` or ``inline`` (this process)."""
    check_executor(name, workers, address)
    if name == "inline":
        return InlineExecutor(registry)
    if in_process(registry):
        raise InputError(f"the {name} executor runs trials in other processes, which see only installed plugins, not a registry built in this one; use executor='inline'.")
    if name == "local":
        return LocalExecutor(workers, threads=threads)
    return RayExecutor(workers, address=address, threads=threads)


def in_process(registry: Registry | None) -> bool:
    """Whether `registry` holds plugins registered in this process only (not the installed plugins' registry)."""
    from ..registry import get_registry

    return registry is not None and registry is not get_registry()
