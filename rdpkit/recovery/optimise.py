"""The optimisation loop: y* = argmin_y D(x, y) by Adam, y clamped to [0, 1], for a batch of images.

When D is batch-independent (each image's value depends on that image pair alone, the
Distortion axiom that `rdpkit.testing.check_distortion` asserts), one optimisation runs over
a whole batch: the loss is the sum of per-image values, so each image receives exactly the
gradient it would receive alone, and Adam updates every pixel independently. The result is the
same as separate runs, computed faster. A distortion that breaks the axiom is run one image at
a time. Memory stays bounded: at most `max_pixels` values (N·C·H·W) are optimised at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..interfaces import Distortion, psnr
from ..ssim import ssim
from .profiles import Profile
from .settings import MAX_PIXELS


@dataclass
class Trajectory:
    """D(x, y), PSNR and SSIM of y against x, at the recorded steps, for one image.

    `dead_channels` counts the channels of y where the gradient of D is exactly zero: there
    D is flat, Adam cannot move those pixels, and no number of steps will change them.
    """

    step: list[int] = field(default_factory=list)
    distortion: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    dead_channels: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float] | list[int]]:
        return {"step": self.step, "distortion": self.distortion, "psnr": self.psnr, "ssim": self.ssim, "dead_channels": self.dead_channels}


@dataclass
class Optimised:
    """The outcome for a batch: final images, one trajectory per image, and the wall time of each chunk."""

    final: torch.Tensor
    trajectories: list[Trajectory]
    seconds: list[float]  # per image: the wall time of the optimisation it was part of
    batch: list[int]  # per image: how many images that optimisation held


def batch_independent(d: Distortion, x: torch.Tensor, y: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """Whether D gives each image of the batch the value it gives that image alone."""
    if x.shape[0] == 1:
        return True
    with torch.no_grad():
        together = d(x, y)
        alone = torch.cat([d(x[i : i + 1], y[i : i + 1]) for i in range(x.shape[0])])
    return bool(torch.allclose(together, alone, rtol=rtol, atol=atol))


def _record(traj: list[Trajectory], step: int, x: torch.Tensor, y: torch.Tensor, values: torch.Tensor, grad: torch.Tensor | None) -> None:
    with torch.no_grad():
        p = psnr(x, y).tolist()
        s = ssim(x, y).tolist()
        dead = [y.shape[1]] * y.shape[0] if grad is None else (grad.flatten(2).abs().amax(2) == 0).sum(1).tolist()
    for i, t in enumerate(traj):
        t.step.append(step)
        t.distortion.append(float(values[i]))
        t.psnr.append(p[i])
        t.ssim.append(s[i])
        t.dead_channels.append(int(dead[i]))


def _run(d: Distortion, x: torch.Tensor, y0: torch.Tensor, profile: Profile, stride: int, bar: tqdm) -> tuple[torch.Tensor, list[Trajectory]]:
    traj = [Trajectory() for _ in range(x.shape[0])]
    y = y0.detach().clone().requires_grad_(True)
    lr = profile.lr_at(0)
    opt = torch.optim.Adam([y], lr=lr)
    for step in range(profile.steps):
        if profile.lr_at(step) != lr:
            lr = profile.lr_at(step)
            if profile.reset_moments:
                opt = torch.optim.Adam([y], lr=lr)
            else:
                opt.param_groups[0]["lr"] = lr
        opt.zero_grad(set_to_none=True)
        # Inputs were validated once before the loop and y stays in [0, 1] by clamping, so the
        # per-call validation of d(x, y) (a full pass over both batches) is skipped here.
        values = d._distance(x, y)
        values.sum().backward()
        if step % stride == 0:
            _record(traj, step, x, y.detach(), values.detach(), y.grad)
        opt.step()
        with torch.no_grad():
            y.clamp_(0, 1)
        bar.update(1)
    y.grad = None
    values = d._distance(x, y)
    values.sum().backward()
    _record(traj, profile.steps, x, y.detach(), values.detach(), y.grad)
    return y.detach(), traj


def optimise(
    d: Distortion,
    x: torch.Tensor,
    y0: torch.Tensor,
    profile: Profile,
    *,
    stride: int,
    max_pixels: int = MAX_PIXELS,
    progress: bool = True,
    desc: str = "recovery",
) -> Optimised:
    """Minimise D(x, y) over y from `y0`, image by image or in batches (see the module docstring).

    `x` and `y0` must be valid image batches of one shape on D's device; D must be differentiable.
    """
    with torch.no_grad():
        d(x, y0)  # validates both batches once, with rdpkit's error messages
    # D's own parameters need no gradients; its mode and flags are restored afterwards.
    training, frozen = d.training, [(p, p.requires_grad) for p in d.parameters()]
    d.eval().requires_grad_(False)
    try:
        return _optimise(d, x, y0, profile, stride, max_pixels, progress, desc)
    finally:
        d.train(training)
        for p, flag in frozen:
            p.requires_grad_(flag)


def _optimise(d: Distortion, x: torch.Tensor, y0: torch.Tensor, profile: Profile, stride: int, max_pixels: int, progress: bool, desc: str) -> Optimised:
    n = x.shape[0]
    per_image = x[0].numel()
    chunk = max(1, max_pixels // per_image) if batch_independent(d, x, y0) else 1
    finals, trajectories, seconds, batch = [], [], [], []
    with tqdm(total=profile.steps * -(-n // chunk), desc=desc, unit="step", disable=not progress, leave=False) as bar:
        for start in range(0, n, chunk):
            xs, ys = x[start : start + chunk], y0[start : start + chunk]
            t0 = time.perf_counter()
            final, traj = _run(d, xs, ys, profile, stride, bar)
            elapsed = time.perf_counter() - t0
            finals.append(final)
            trajectories.extend(traj)
            seconds.extend([elapsed] * xs.shape[0])
            batch.extend([xs.shape[0]] * xs.shape[0])
    return Optimised(torch.cat(finals), trajectories, seconds, batch)
