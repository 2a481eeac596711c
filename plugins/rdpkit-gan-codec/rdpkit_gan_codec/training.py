"""Training: E[Δ(X, g(f̂(X)))] + λ·d_W(p_X, p_X̂), alternating critic and generator steps.

d_W is the WGAN-GP critic's estimate E f(X) − E f(X̂) (rdpkit.critics.wgan). Each step draws
one minibatch; with λ > 0, the critic first takes `critic_steps` Adam steps on it, then the
encoder and decoder take one. With λ = 0 no critic is built: the distortion alone is
minimised (Shannon's rate-distortion curve).

Everything random comes from two generators seeded from `seed` (minibatch indices on the
CPU, noise and penalty interpolates on the training device), and both are saved in the
checkpoints, so a resumed run continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from rdpkit.critics.wgan import gradient_penalty, make_critic_net
from rdpkit.interfaces import Distortion
from rdpkit.weights import Stateful, check_resumable, restore_run, run_state

from .config import GanConfig
from .model import GanAutoencoder
from .storage import MODEL_FORMAT, load_checkpoint, save_checkpoint

#: Steps between checkpoints (and between the entries of the training history).
CHECKPOINT_EVERY = 100
#: Adam's betas for both players. β1 = 0 (no momentum) lets these small adversarial games
#: converge within a few thousand steps; Gulrajani et al.'s 0.5 was several times slower here.
BETAS = (0.0, 0.9)


@dataclass
class Run:
    """One training run's state: what a checkpoint holds."""

    model: GanAutoencoder
    critic: nn.Module | None
    optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer | None
    index_gen: torch.Generator
    noise_gen: torch.Generator
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def _parts(self) -> dict[str, Stateful]:
        return {"model": self.model, "critic": self.critic, "optimizer": self.optimizer, "critic_optimizer": self.critic_optimizer,
                "index_gen": self.index_gen, "noise_gen": self.noise_gen}

    def state(self, config: GanConfig, seed: int, batch_size: int) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "config": config.to_json(), "shape": list(self.model.shape), "seed": seed,
                "batch_size": batch_size, "step": self.step, "history": self.history, **run_state(self._parts())}

    def restore(self, saved: dict[str, Any]) -> None:
        restore_run(saved, self._parts())
        self.step = int(saved["step"])
        self.history = list(saved["history"])


def new_run(config: GanConfig, shape: tuple[int, int, int], seed: int, device: torch.device) -> Run:
    """Networks initialised under `seed` (without touching the global RNG), optimisers, generators."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GanAutoencoder(config, shape).to(device)
        critic = make_critic_net(shape, config.critic_hidden).to(device) if config.lam > 0 else None
    optimizer = torch.optim.Adam([*model.encoder.parameters(), *model.decoder.parameters()], lr=config.lr, betas=BETAS)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=BETAS) if critic is not None else None
    return Run(model, critic, optimizer, critic_optimizer, torch.Generator().manual_seed(seed), torch.Generator(device=device).manual_seed(seed + 1))


def train(
    run: Run,
    config: GanConfig,
    data: torch.Tensor,
    distortion: Distortion,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    checkpoint: str | Path | None,
    resume: bool,
    progress: bool,
) -> None:
    """Train `run` until `run.step == steps`; `data` is N×C×H×W on the training device."""
    expected = {"config": config.to_json(), "shape": list(run.model.shape), "seed": seed, "batch_size": batch_size}
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        saved = load_checkpoint(checkpoint)
        check_resumable(saved, checkpoint, expected, steps)
        run.restore(saved)
    model, critic = run.model, run.critic
    b = min(batch_size, data.shape[0])
    sums = torch.zeros(2, dtype=torch.float64, device=data.device)
    model.train()
    bar = tqdm(total=steps, initial=min(run.step, steps), desc=f"training gan (λ={config.lam:g})", disable=not progress, leave=False)
    while run.step < steps:
        x = data[torch.randint(data.shape[0], (b,), generator=run.index_gen).to(data.device)]
        if critic is not None and run.critic_optimizer is not None:
            critic.requires_grad_(True)
            for _ in range(config.critic_steps):
                with torch.no_grad():
                    fake = model(x, model.uniform_noise(torch.Size((b, config.dim)), run.noise_gen))
                gap = critic(x).mean() - critic(fake).mean()
                loss = -gap + config.gp_weight * gradient_penalty(critic, x, fake, generator=run.noise_gen)
                run.critic_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                run.critic_optimizer.step()
            critic.requires_grad_(False)
        x_hat = model(x, model.uniform_noise(torch.Size((b, config.dim)), run.noise_gen))
        dist = distortion(x, x_hat).mean()
        loss = dist
        if critic is not None:
            w_gap = critic(x).mean() - critic(x_hat).mean()
            loss = dist + config.lam * w_gap
            sums[1] += w_gap.detach()
        sums[0] += dist.detach()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.step += 1
        bar.update(1)
        if run.step % CHECKPOINT_EVERY == 0 or run.step == steps:
            count = (run.step - 1) % CHECKPOINT_EVERY + 1
            entry = {"step": run.step, "distortion": float(sums[0]) / count}
            if critic is not None:
                entry["critic_w1"] = float(sums[1]) / count
            run.history.append(entry)
            bar.set_postfix({k: f"{v:.4g}" for k, v in entry.items() if k != "step"})
            sums.zero_()
            if checkpoint is not None:
                save_checkpoint(checkpoint, run.state(config, seed, batch_size))
    bar.close()
    model.eval()
