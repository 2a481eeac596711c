"""Training the hific codec: rate + λ_d·distortion + λ_p·non-saturating GAN loss, discriminator and generator in turn.

Each step draws one batch of random crops (crops.py). With λ_p > 0 the discriminator first
takes an Adam step on it (real crops against the decoded ones, both conditioned on ŷ, the
decoded ones detached), then the codec (analysis, entropy models, generator) takes one on
bpp + λ_d·Δ(x, x̂) + λ_p·(−log D(x̂, ŷ)), seen by the discriminator just updated. Δ sees x̂
clamped to [0, 1] as decoding clamps it, with the gradient passed straight through the
clamp. Gradients of the codec are clipped to norm 1, as for the other codecs; the learning
rates drop tenfold for the last tenth of the steps.

Randomness comes from two CPU generators seeded from `seed` (crops; quantisation and decoder
noise), saved in the checkpoints with both networks and both optimisers, so a run is
deterministic under its seed on the CPU and a resumed run continues exactly. In data-parallel
training every process draws the whole batch and its noise from the same generators and
computes its own rows; DistributedDataParallel averages the gradients, so K processes with
B/K images each take the same steps as one process with B images, up to float summation order.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from rdpkit.errors import InputError
from rdpkit.interfaces import Distortion
from rdpkit.weights import (
    Stateful,
    check_resumable,
    content_digest,
    load_checkpoint,
    restore_run,
    run_state,
    save_checkpoint,
)

from ..models.hific_config import HificConfig
from ..models.start import Start
from ..networks.discriminator import (
    PatchDiscriminator,
    discriminator_loss,
    generator_loss,
)
from ..networks.hific_model import HificModel, Noise
from ..networks.padding import pad
from .crops import Crops
from .distributed import Group, current, join_from_environment, launch, under_torchrun
from .grid import WINDOW, grid_energy
from .transform import CHECKPOINT_EVERY, CLIP_NORM, Schedule

CHECKPOINT_FORMAT = "rdpkit-learned-codecs/hific-run-1"
#: Step of the dual ascent on log λ_r per unit of relative rate error ((bpp − r_t) / r_t) per step.
RATE_STEP = 0.003
#: Adam's betas for the discriminator (β1 = 0.5, Radford et al.'s for GANs); the codec keeps Adam's defaults, as its start was trained with them.
BETAS_D = (0.5, 0.999)


@dataclass(frozen=True)
class HificSchedule(Schedule):
    """The transform codecs' schedule (steps, batch, crops, the codec's learning rate and its decay), plus the
    discriminator's learning rate and bfloat16 autocast."""

    lr_d: float = 4e-4
    amp: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.lr_d, bool) or not isinstance(self.lr_d, (int, float)) or not 0 < self.lr_d < 1:
            raise InputError(f"lr_d must be a number in (0, 1), got {self.lr_d!r}.")
        if not isinstance(self.amp, bool):
            raise InputError(f"amp must be true or false, got {self.amp!r}.")

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed (steps may grow; amp changes only arithmetic)."""
        return {"batch_size": self.batch_size, "crop": self.crop, "lr": self.lr, "lr_d": self.lr_d}


@dataclass
class HificRun:
    model: HificModel
    discriminator: PatchDiscriminator | None
    optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer | None
    data_gen: torch.Generator
    noise_gen: torch.Generator
    step: int = 0
    seconds: float = 0.0
    log_rate_weight: float = 0.0  # log λ_r: stays 0 without a rate target
    history: list[dict[str, float]] = field(default_factory=list)
    replicas: list[str] = field(default_factory=list)

    def _parts(self) -> dict[str, Stateful]:
        return {"model": self.model, "optimizer": self.optimizer, "discriminator": self.discriminator, "d_optimizer": self.d_optimizer,
                "data_gen": self.data_gen, "noise_gen": self.noise_gen}

    def state(self, expected: dict[str, Any]) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, **expected, "step": self.step, "seconds": self.seconds, "log_rate_weight": self.log_rate_weight,
                "history": self.history, "replicas": self.replicas, **run_state(self._parts())}

    def restore(self, saved: dict[str, Any]) -> None:
        restore_run(saved, self._parts())
        self.step, self.seconds, self.history = int(saved["step"]), float(saved["seconds"]), list(saved["history"])
        self.replicas = list(saved.get("replicas", []))
        self.log_rate_weight = float(saved["log_rate_weight"])

    def weights_digest(self) -> str:
        return content_digest(run_state({"model": self.model, "discriminator": self.discriminator}))


def new_run(config: HificConfig, start: Start | None, seed: int, device: torch.device, schedule: HificSchedule) -> HificRun:
    """Networks initialised under `seed` (without touching the global RNG), then from `start`; optimisers; generators."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HificModel(config)
        discriminator = PatchDiscriminator(config.latent_channels, config.discriminator_channels, config.discriminator_layers,
                                           detail=config.discriminator_input) if config.lam_p > 0 else None
    if start is not None:
        wanted = model.state_dict()
        # The generator comes from the start only when it is the same network (synthesis="gdn" from a hyperprior).
        usable = {k: v for k, v in start.state.items() if k in wanted and wanted[k].shape == v.shape and "table_" not in k.rsplit(".", 1)[-1]}
        missing = [k for k in wanted if not k.startswith("g_s.") and "table_" not in k.rsplit(".", 1)[-1] and k not in usable]
        if missing:
            raise InputError(f"the start {start.description.get('start')!r} lacks {missing[0]!r} (or its shape differs), so it is not the hyperprior path of this codec; start from a model with channels={config.channels}, latent_channels={config.latent_channels}, mean={str(config.mean).lower()}.")
        model.load_state_dict(usable, strict=False)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr)
    d_optimizer = None
    if discriminator is not None:
        discriminator.to(device)
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=schedule.lr_d, betas=BETAS_D)
    return HificRun(model, discriminator, optimizer, d_optimizer, torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1))


def _straight_through_clamp(x: torch.Tensor) -> torch.Tensor:
    """x clamped to [0, 1] (what decoding outputs, and what distortions accept) with the gradient of x itself."""
    return x + (x.clamp(0, 1) - x).detach()


def train(run: HificRun, crops: Crops, distortion: Distortion, schedule: HificSchedule, *, expected: dict[str, Any],
          checkpoint: str | Path | None, resume: bool, progress: bool, group: Group | None = None) -> HificRun:
    """Train `run` until `run.step == schedule.steps`; `expected` identifies the run in its checkpoints."""
    from torch.nn.parallel import DistributedDataParallel

    group = group or Group()
    config = run.model.hific
    stride = config.model_config().stride
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        saved = load_checkpoint(checkpoint, fmt=CHECKPOINT_FORMAT, owner="hific training",
                                fix="delete it, or pass resume=False to start afresh")
        check_resumable(saved, checkpoint, expected, schedule.steps)
        run.restore(saved)
    device = next(run.model.parameters()).device
    model: nn.Module = run.model
    disc: nn.Module | None = run.discriminator
    if group.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(run.model, device_ids=ids)
        disc = DistributedDataParallel(run.discriminator, device_ids=ids) if run.discriminator is not None else None
    distortion.requires_grad_(False)
    lo, hi = group.share(schedule.batch_size)
    # loss, bpp, psnr, Δ, −log D(x̂), discriminator loss, D(x) and D(x̂) as probabilities: summed, then averaged per entry.
    sums = torch.zeros(8, dtype=torch.float64)
    run.model.train()
    bar = tqdm(total=schedule.steps, initial=run.step, desc=f"training hific (λ_p={config.lam_p:g})", disable=not (progress and group.main), leave=False)
    started = time.perf_counter() - run.seconds
    trained = run.step < schedule.steps
    while run.step < schedule.steps:
        factor = schedule.factor(run.step)
        for pg in run.optimizer.param_groups:
            pg["lr"] = schedule.lr * factor
        x_all = crops.batch(schedule.batch_size, schedule.crop, run.data_gen)
        h, w = x_all.shape[-2:]
        xp = pad(x_all[lo:hi].to(device), stride)
        y_shape, z_shape = run.model.latent_shapes(schedule.batch_size, *xp.shape[-2:])
        noise = Noise.draw(y_shape, z_shape, config.noise, run.noise_gen).rows(lo, hi, device)
        out = model(xp, noise, schedule.amp)
        y_cond = out.y_hat.detach()
        gan = torch.zeros((), device=device)
        if disc is not None and run.discriminator is not None and run.d_optimizer is not None:
            for pg in run.d_optimizer.param_groups:
                pg["lr"] = schedule.lr_d * factor
            run.discriminator.requires_grad_(True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=schedule.amp):
                logits = disc(torch.cat([xp, out.x_hat.detach()]), torch.cat([y_cond, y_cond])).float()
            real, fake = logits.chunk(2)
            d_loss = discriminator_loss(real, fake)
            run.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            run.d_optimizer.step()
            run.discriminator.requires_grad_(False)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=schedule.amp):
                gan = generator_loss(run.discriminator(out.x_hat, y_cond).float())
            sums[5:] += torch.tensor([float(d_loss.detach()), float(torch.sigmoid(real.detach()).mean()), float(torch.sigmoid(fake.detach()).mean())], dtype=torch.float64)
        x = xp[..., :h, :w]
        x_hat = _straight_through_clamp(out.x_hat[..., :h, :w])
        delta = distortion(x, x_hat)
        bpp = out.bits / (h * w)
        grid = grid_energy(x_hat - x) if config.grid_weight > 0 else torch.zeros((), device=device)
        loss = (math.exp(run.log_rate_weight) * bpp + config.lam_d * (delta + config.grid_weight * grid) + config.lam_p * gan).mean()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), CLIP_NORM)
        run.optimizer.step()
        run.step += 1
        if config.target_bpp is not None:
            rate = float(group.sum(bpp.detach().mean().double().cpu())) / group.world
            run.log_rate_weight += RATE_STEP * (rate - config.target_bpp) / config.target_bpp
        with torch.no_grad():
            mse = (x_hat - x).pow(2).flatten(1).mean(1).clamp_min(1e-10)
            sums[:5] += torch.tensor([float(loss), float(bpp.mean()), float((-10 * torch.log10(mse)).mean()), float(delta.mean()), float(gan.mean())], dtype=torch.float64)
        bar.update(1)
        if run.step % CHECKPOINT_EVERY == 0 or run.step == schedule.steps:
            count = (run.step - 1) % CHECKPOINT_EVERY + 1
            mean = group.sum(sums.clone()) / (count * group.world)
            entry = {"step": run.step, **dict(zip(("loss", "bpp", "psnr", "distortion"), mean[:4].tolist())), "rate_weight": math.exp(run.log_rate_weight)}
            if run.discriminator is not None:
                entry.update(zip(("gan", "d_loss", "d_real", "d_fake"), mean[4:].tolist()))
            run.history.append(entry)
            bar.set_postfix({k: f"{v:.4g}" for k, v in entry.items() if k in ("bpp", "psnr", "gan", "d_real", "d_fake")})
            sums.zero_()
            run.seconds = time.perf_counter() - started
            if checkpoint is not None and group.main and run.step < schedule.steps:
                save_checkpoint(checkpoint, run.state(expected))
    bar.close()
    run.model.eval()
    if trained:
        run.seconds = time.perf_counter() - started
        run.replicas = group.same_everywhere(run.weights_digest())
        if checkpoint is not None and group.main:
            save_checkpoint(checkpoint, run.state(expected))
    return run


def make_distortion(component: str, side: int) -> Distortion:
    """The training distortion, created (weights found, differentiability checked) before any training starts."""
    import rdpkit
    from rdpkit.options import Component
    from rdpkit.registry import get_registry

    from ..weighted_sum import check_trainable

    c = Component.parse(component, what="distortion")
    check_trainable(c, get_registry())
    d = rdpkit.distortion(c.name, **c.options)
    if side < d.min_size:
        raise InputError(f"distortion {component!r} needs images of at least {d.min_size}×{d.min_size}, but the training crops are {side}×{side}; use crop={d.min_size} or more (and images that large), or another distortion.")
    return d


def worker(device: torch.device, config_json: str, start: Start | None, data: Any, schedule: HificSchedule, seed: int,
           expected: dict[str, Any], checkpoint: str, resume: bool, progress: bool) -> None:
    """One process of data-parallel training (distributed.launch): the same run as every other process, its share of each batch."""
    config = HificConfig.from_json(config_json)
    crops = Crops.of(data)
    run = new_run(config, start, seed, device, schedule)
    train(run, crops, make_distortion(config.distortion, min(schedule.crop, crops.side)).to(device), schedule,
          expected=expected, checkpoint=checkpoint, resume=resume, progress=progress, group=current())


def run_identity(config: HificConfig, start: Start | None, seed: int, schedule: HificSchedule) -> dict[str, Any]:
    """What identifies a run in its checkpoints: configuration, seed, start (file digest and rate) and schedule."""
    described = None if start is None else {k: v for k, v in start.description.items() if k in ("sha256", "quality")}
    return {"config": config.to_json(), "seed": seed, "start": described, **schedule.identity()}


def fit(config: HificConfig, start: Start | None, data: Any, schedule: HificSchedule, *, seed: int, device: torch.device,
        checkpoint: str | Path | None, resume: bool, progress: bool, processes: int) -> HificRun:
    """A finished run on `data`: in this process (or, under torchrun, the group torchrun started), or data-parallel in
    `processes` processes on this machine, whose last checkpoint this process then reloads."""
    crops = Crops.of(data)
    distortion = make_distortion(config.distortion, min(schedule.crop, crops.side))
    if config.grid_weight > 0 and min(schedule.crop, crops.side) < WINDOW:
        raise InputError(f"grid_weight > 0 needs training crops of at least {WINDOW}×{WINDOW} pixels (the stride-grid penalty's window), got {min(schedule.crop, crops.side)}; use crop={WINDOW} or more.")
    expected = run_identity(config, start, seed, schedule)
    if processes > 1:
        Group(0, processes).share(schedule.batch_size)  # an uneven split is refused before any process starts
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(checkpoint) if checkpoint is not None else Path(tmp) / "run.pt"
            threads = max(1, torch.get_num_threads() // processes) if device.type == "cpu" else 1
            launch(processes, device, threads, worker, config.to_json(), start, data, schedule, seed, expected, str(path), resume, progress)
            run = new_run(config, start, seed, torch.device("cpu"), schedule)
            return train(run, crops, distortion, schedule, expected=expected, checkpoint=path, resume=True, progress=False)
    group = current()
    if under_torchrun():
        device = join_from_environment(device)
        group = current()
    run = new_run(config, start, seed, device, schedule)
    return train(run, crops, distortion.to(device), schedule, expected=expected, checkpoint=checkpoint, resume=resume, progress=progress, group=group)
