"""Where trials run: a local process pool (the default) or Ray tasks.

An executor only computes: it takes a trial configuration and a device and gives back an
`Outcome`. The process that owns the store claims each trial before submitting it and
writes its result when it comes back, so resuming skips finished trials the same way on
every executor, and Ray workers on other machines need no access to the store.

GPU placement: on a machine with GPUs the local pool runs one trial per GPU at a time,
each on its own device; Ray gives each task a GPU share (`gpus_per_trial`) and the device
Ray assigned it.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..errors import InputError
from .trial import Outcome, run_trial

EXECUTORS = ("local", "ray")


def _local_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class Executor(ABC):
    """Runs trials concurrently, at most `slots` at a time."""

    slots: int

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def submit(self, config: dict[str, Any], threads: int, device: str) -> Any:
        """Start one trial; returns a handle for `wait`."""

    @abstractmethod
    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        """Block until at least one of `handles` is done; return every finished (handle, outcome)."""

    def close(self) -> None:
        """Release workers (and a cluster started for the run)."""


def _run_in_worker(config: dict[str, Any], device: str, threads: int) -> Outcome:
    return run_trial(config, device=device, threads=threads)


class LocalExecutor(Executor):
    """A pool of fresh processes (spawned, so CUDA and threads start clean)."""

    def __init__(self, workers: int | None = None, *, device: str = "auto", threads: int = 1) -> None:
        gpus = _local_gpus() if device == "auto" else 0
        self._devices = [f"cuda:{i}" for i in range(gpus)] if gpus else ["cpu" if device == "auto" else device]
        default = gpus or max(1, (os.cpu_count() or 1) // threads)
        self.slots = workers or default
        if self.slots < 1:
            raise InputError(f"workers must be at least 1, got {workers}.")
        self._pool = cf.ProcessPoolExecutor(self.slots, mp_context=mp.get_context("spawn"))
        self._busy: dict[str, int] = dict.fromkeys(self._devices, 0)
        self._device_of: dict[Any, str] = {}

    def pick_device(self) -> str:
        """The device with the fewest trials running on it."""
        return min(self._devices, key=lambda d: self._busy[d])

    def submit(self, config: dict[str, Any], threads: int, device: str) -> Any:
        device = self.pick_device() if device == "auto" else device
        future = self._pool.submit(_run_in_worker, config, device, threads)
        self._busy[device] = self._busy.get(device, 0) + 1
        self._device_of[future] = device
        return future

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, Outcome]]:
        done, _ = cf.wait(list(handles), return_when=cf.FIRST_COMPLETED)
        out, broken = [], False
        for future in done:
            self._busy[self._device_of.pop(future)] -= 1
            try:
                out.append((future, future.result()))
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory): the pool is unusable
                broken = True
                out.append((future, Outcome(error=f"the worker running this trial died ({exc})")))
        if broken:  # trials still queued in the dead pool come back failed too; later ones get a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = cf.ProcessPoolExecutor(self.slots, mp_context=mp.get_context("spawn"))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """Ray tasks on a local cluster started for the run, or on the cluster at `address`."""

    def __init__(self, workers: int | None = None, *, address: str | None = None, device: str = "auto",
                 threads: int = 1, gpus_per_trial: float = 1.0) -> None:
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
                    cpus = workers * threads if workers else None
                    # A small object store: trials move kilobytes, and this machine's memory is shared.
                    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                             object_store_memory=100 * 1024**2)
            except ConnectionError as exc:
                raise InputError(f"cannot reach the Ray cluster at {address!r} ({exc}); check the address (ray status prints it), or leave out --address to start a local one.") from None
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0) if device == "auto" else 0
        self._gpus = gpus_per_trial if gpus else 0
        self.slots = workers or max(1, int(gpus / gpus_per_trial) if gpus else int(resources.get("CPU", 1) // threads))
        self._device = "cuda" if gpus else ("cpu" if device == "auto" else device)
        self._task = ray.remote(_run_in_worker).options(num_cpus=threads, num_gpus=self._gpus, max_retries=0)

    def submit(self, config: dict[str, Any], threads: int, device: str) -> Any:
        # Ray sets CUDA_VISIBLE_DEVICES in the task, so its GPU is always "cuda".
        return self._task.remote(config, self._device if device == "auto" else device, threads)

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


def make_executor(name: str, *, workers: int | None = None, address: str | None = None, device: str = "auto", threads: int = 1) -> Executor:
    """The executor called `name` ("local" or "ray")."""
    if name == "local":
        if address:
            raise InputError("--address is for the Ray executor; add --executor ray, or leave out --address.")
        return LocalExecutor(workers, device=device, threads=threads)
    if name == "ray":
        return RayExecutor(workers, address=address, device=device, threads=threads)
    from ..errors import suggestion

    raise InputError(f"unknown executor {name!r}; {suggestion(name, EXECUTORS) or 'use ' + ' or '.join(EXECUTORS)}.")
