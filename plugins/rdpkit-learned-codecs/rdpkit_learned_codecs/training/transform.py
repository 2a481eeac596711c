"""Training: Adam on λ·255²·MSE + bits per pixel over random crops, with checkpoints and resume.

Each step draws a batch of crops (crops.py) and, for a variable-rate model, a random rate per
crop. The learning rate drops tenfold for the last tenth of the steps; gradients are clipped
to norm 1 (as in CompressAI's example). Everything random comes from two CPU generators
seeded from `seed` (crops and rates, quantisation noise), saved in every checkpoint, so a run
is deterministic under its seed on the CPU and a resumed run continues exactly where the
interrupted one stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError
from rdpkit.weights import Stateful, check_resumable, restore_run, run_state

from ..models.config import ModelConfig
from ..models.storage import MODEL_FORMAT, load_checkpoint, save_checkpoint
from ..networks.codec_model import CodecModel
from ..networks.padding import pad
from .crops import Crops

CHECKPOINT_EVERY = 100
CLIP_NORM = 1.0
#: The share of the steps run at a tenth of the learning rate, at the end.
DECAY_SHARE = 0.1


@dataclass(frozen=True)
class Schedule:
    steps: int
    batch_size: int = 8
    crop: int = 128
    lr: float = 1e-4

    def __post_init__(self) -> None:
        check_int(self.steps, 1, 10**8, "steps")
        check_int(self.batch_size, 1, 4096, "batch_size")
        check_int(self.crop, 8, 4096, "crop")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise InputError(f"lr must be a number in (0, 1), got {self.lr!r}.")

    def factor(self, step: int) -> float:
        """The learning rates' multiplier at `step`: a tenth for the last DECAY_SHARE of the steps."""
        return 0.1 if step >= self.steps * (1 - DECAY_SHARE) else 1.0

    def lr_at(self, step: int) -> float:
        return self.lr * self.factor(step)


@dataclass
class Run:
    model: CodecModel
    optimizer: torch.optim.Optimizer
    data_gen: torch.Generator
    noise_gen: torch.Generator
    step: int = 0
    seconds: float = 0.0  # training wall time, summed over resumed runs
    history: list[dict[str, float]] = field(default_factory=list)

    def _parts(self) -> dict[str, Stateful]:
        return {"model": self.model, "optimizer": self.optimizer, "data_gen": self.data_gen, "noise_gen": self.noise_gen}

    def state(self, seed: int, schedule: Schedule) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "config": self.model.config.to_json(), "seed": seed, "batch_size": schedule.batch_size,
                "crop": schedule.crop, "lr": schedule.lr, "step": self.step, "seconds": self.seconds, "history": self.history,
                **run_state(self._parts())}

    def restore(self, saved: dict[str, Any]) -> None:
        restore_run(saved, self._parts())
        self.step, self.seconds, self.history = int(saved["step"]), float(saved["seconds"]), list(saved["history"])


def new_run(config: ModelConfig, seed: int, device: torch.device, lr: float) -> Run:
    """A model initialised under `seed` (without touching the global RNG), Adam, and the generators."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CodecModel(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return Run(model, optimizer, torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1))


def train(run: Run, crops: Crops, schedule: Schedule, *, seed: int, checkpoint: str | Path | None, resume: bool, progress: bool) -> Run:
    """Train `run` until `run.step == schedule.steps`, checkpointing every CHECKPOINT_EVERY steps."""
    model, config = run.model, run.model.config
    expected = {"config": config.to_json(), "seed": seed, "batch_size": schedule.batch_size, "crop": schedule.crop, "lr": schedule.lr}
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        saved = load_checkpoint(checkpoint)
        check_resumable(saved, checkpoint, expected, schedule.steps)
        run.restore(saved)
    device = next(model.parameters()).device
    lams = torch.tensor(config.lams, device=device)
    sums = torch.zeros(3, dtype=torch.float64)
    model.train()
    bar = tqdm(total=schedule.steps, initial=run.step, desc=f"training {config.kind}", disable=not progress, leave=False)
    started = time.perf_counter() - run.seconds
    while run.step < schedule.steps:
        for group in run.optimizer.param_groups:
            group["lr"] = schedule.lr_at(run.step)
        x = crops.batch(schedule.batch_size, schedule.crop, run.data_gen)
        rate = torch.randint(config.rates, (x.shape[0],), generator=run.data_gen)
        x, rate = x.to(device), rate.to(device)
        h, w = x.shape[-2:]
        out = model(pad(x, config.stride), rate, run.noise_gen)
        mse = (out.x_hat[..., :h, :w] - x).pow(2).flatten(1).mean(1)
        bpp = out.bits / (h * w)
        loss = (lams[rate] * 255**2 * mse + bpp).mean()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        run.optimizer.step()
        run.step += 1
        sums += torch.tensor([float(loss.detach()), float(bpp.detach().mean()), float((-10 * torch.log10(mse.detach().clamp_min(1e-10))).mean())], dtype=torch.float64)
        bar.update(1)
        if run.step % CHECKPOINT_EVERY == 0 or run.step == schedule.steps:
            count = (run.step - 1) % CHECKPOINT_EVERY + 1
            entry = {"step": run.step, "loss": float(sums[0]) / count, "bpp": float(sums[1]) / count, "psnr": float(sums[2]) / count}
            run.history.append(entry)
            bar.set_postfix({k: f"{v:.4g}" for k, v in entry.items() if k != "step"})
            sums.zero_()
            run.seconds = time.perf_counter() - started
            if checkpoint is not None:
                save_checkpoint(checkpoint, run.state(seed, schedule))
    run.seconds = time.perf_counter() - started
    bar.close()
    model.eval()
    return run


def finish(model: CodecModel, *, half: bool = False) -> CodecModel:
    """Compute the integer tables the coder uses (after rounding the weights to float16 when `half`, as they will be stored)."""
    from ..entropy.tables import set_tables

    model = model.cpu().eval()
    if half:
        with torch.no_grad():
            for t in model.parameters():
                t.copy_(t.half().float())
    for module in model.entropy_modules():
        set_tables(module, module.tables())
    return model
