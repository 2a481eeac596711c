"""Training a PIM model: Adam on the negated IXYZ bound over pairs of temporally close images."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import torch
from tqdm.auto import tqdm

from rdpkit.errors import InputError
from rdpkit.validation import usable_device

from .model import Config, PIMModel
from .objective import ixyz_bound


class PairSource(Protocol):
    def sample(self, batch: int, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...

    def describe(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class Schedule:
    """Steps, minibatch, crop size and learning rate (cosine-annealed to zero)."""

    steps: int = 1200
    batch: int = 32
    crop: int = 48
    lr: float = 3e-3

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "crop"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.batch < 2:
            raise InputError(f"batch must be at least 2: the contrastive bound compares each pair with the others, got {self.batch}.")
        if not self.lr > 0:
            raise InputError(f"lr must be positive, got {self.lr}.")


@dataclass
class Result:
    model: PIMModel
    #: The IXYZ bound (nats per location), averaged over the last tenth of the steps.
    final_bound: float
    wall_s: float
    history: list[float] = field(default_factory=list, repr=False)


def train(
    pairs: PairSource,
    *,
    schedule: Schedule | None = None,
    config: Config | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
) -> Result:
    """Fit a fresh PIM model to `pairs`; every random choice follows `seed`."""
    s = schedule or Schedule()
    if s.crop < (config or Config()).min_size:
        raise InputError(f"crop must be at least {(config or Config()).min_size} pixels for this architecture, got {s.crop}.")
    dev = torch.device(usable_device(device))
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = PIMModel(config).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / s.steps)))
    history: list[float] = []
    start = time.perf_counter()
    bar = tqdm(range(s.steps), desc="training PIM", unit="step", disable=not progress)
    for _ in bar:
        x, y = pairs.sample(s.batch, s.crop, g)
        bound = ixyz_bound(model, x.to(dev), y.to(dev), g)
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        sched.step()
        history.append(float(bound.detach()))
        bar.set_postfix(ixyz=f"{history[-1]:.3f}")
    tail = history[-max(1, s.steps // 10) :]
    model.eval()
    return Result(model=model, final_bound=sum(tail) / len(tail), wall_s=time.perf_counter() - start, history=history)
