"""Data-parallel training with torch.distributed: NCCL between GPUs, gloo between CPU processes.

Two ways in, one training loop:

- `launch(processes, ...)` starts the processes itself (torch.multiprocessing, spawn), on
  this machine: one per GPU when training on CUDA (process r on cuda:r), else CPU processes
  sharing the cores;
- under `torchrun` (which sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address),
  `join_from_environment` joins the group torchrun describes, on one node or several.

Each process computes its share of every batch and DistributedDataParallel averages the
gradients, so the processes hold the same weights after every step; the training loop checks
that they still do at the end (`Group.same_everywhere`).
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from rdpkit import errors
from rdpkit.errors import InputError, RdpkitError

#: The environment torchrun sets for every process it starts.
TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Group:
    """This process's place in a data-parallel group (rank 0 of 1 when training alone)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, batch: int) -> tuple[int, int]:
        """The rows of a batch of `batch` images this process computes."""
        if batch % self.world:
            raise InputError(f"batch_size {batch} does not split evenly over {self.world} processes; use a multiple of {self.world}.")
        size = batch // self.world
        return self.rank * size, (self.rank + 1) * size

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """`t` summed over the processes (NCCL reduces on the GPU, so the tensor goes there and back)."""
        if self.world == 1:
            return t
        on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else t.device
        total = t.to(on)
        dist.all_reduce(total)
        return total.to(t.device)

    def same_everywhere(self, digest: str) -> list[str]:
        """Every process's `digest`, gathered (one per rank), refusing a group whose processes disagree."""
        if self.world == 1:
            return [digest]
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, digest)
        if len(set(gathered)) > 1:
            raise RdpkitError(f"the {self.world} training processes ended with different weights ({', '.join(d[:12] for d in gathered)}); this is a bug in data-parallel training, please report it.")
        return [str(d) for d in gathered]


def current() -> Group:
    """The group this process belongs to (joined by `launch` or `join_from_environment`), or a group of one."""
    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size())
    return Group()


def backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def under_torchrun() -> bool:
    return all(k in os.environ for k in TORCHRUN) and int(os.environ["WORLD_SIZE"]) > 1


def join_from_environment(device: torch.device) -> torch.device:
    """Join the group torchrun started this process in (if not joined yet); on CUDA, the device becomes cuda:LOCAL_RANK."""
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend(device))
    return device


def _entry(rank: int, world: int, rendezvous: str, device_type: str, threads: int, target: Callable[..., None], args: tuple[Any, ...], errors_out: Any) -> None:
    torch.set_num_threads(threads)
    device = torch.device(device_type) if device_type == "cpu" else torch.device(device_type, rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend(device), init_method=rendezvous, rank=rank, world_size=world)
    try:
        target(device, *args)
    except RdpkitError as exc:
        errors_out.put((rank, type(exc).__name__, str(exc)))
        raise SystemExit(1) from None
    except BaseException as exc:
        errors_out.put((rank, "", "".join(traceback.format_exception_only(type(exc), exc)).strip()))
        raise
    finally:
        dist.destroy_process_group()


def launch(processes: int, device: torch.device, threads: int, target: Callable[..., None], *args: Any) -> None:
    """Run `target(device, *args)` in `processes` new processes forming one group, and wait for all of them.

    `target` must be importable by name (a module-level function), as spawned processes
    import it afresh. An rdpkit error in any process is raised here with its own sentence.
    """
    import torch.multiprocessing as mp

    if device.type == "cuda" and processes > torch.cuda.device_count():
        raise InputError(f"processes={processes} asks for more GPUs than the {torch.cuda.device_count()} this machine has; use at most that many, or torchrun across machines.")
    context = mp.get_context("spawn")
    failures = context.SimpleQueue()
    stopped: Exception | None = None
    # A file in a fresh folder, not a TCP port: a port found free can be taken by another program (another test
    # worker) before rank 0 listens on it.
    with tempfile.TemporaryDirectory(prefix="rdpkit-rendezvous-") as folder:
        try:
            mp.spawn(_entry, args=(processes, f"file://{Path(folder) / 'store'}", device.type, threads, target, args, failures), nprocs=processes, join=True)
        except (mp.ProcessExitedException, mp.ProcessRaisedException) as exc:
            stopped = exc
    if not failures.empty():
        rank, kind, message = failures.get()
        cls = getattr(errors, kind, None) if kind else None
        if isinstance(cls, type) and issubclass(cls, RdpkitError):
            raise cls(message)
        raise RdpkitError(f"training process {rank} of {processes} failed ({message.splitlines()[-1][:300]}); run with processes=1 to see it in full.")
    if stopped is not None:
        raise RdpkitError(f"a training process stopped without saying why ({str(stopped).splitlines()[0][:200]}); it was probably killed (out of memory?), so rerun the same command to resume from the last checkpoint.")
