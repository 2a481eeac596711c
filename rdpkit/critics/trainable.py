"""What the trainable critics share: a network built for the first input shape, input checks,
and one minibatch training loop.

A trainable critic accepts image batches N×C×H×W in [0, 1] or sample sets N×D (any real
values) for `fit`; `score` is the Critic interface and takes images only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import split
from ..errors import InputError
from ..interfaces import Critic
from ..spec import component_name
from ..validation import check_images, check_samples
from .net import make_critic_net

#: loss(net, real_batch, fake_batch, generator) -> scalar tensor to minimise.
Loss = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def as_batch(x: object, name: str) -> torch.Tensor:
    """An image batch (validated as images) or a sample set N×D (flattened from N×...)."""
    if isinstance(x, torch.Tensor) and x.ndim == 4:
        return check_images(x, name)
    return check_samples(x, name)


def holdout_split(real: object, fake: object, holdout: float, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle each set and keep the fraction `holdout` for evaluation: (train_real, train_fake, test_real, test_fake)."""
    if not 0 < holdout < 1:
        raise InputError(f"holdout must lie strictly between 0 and 1 (the fraction kept for evaluation), got {holdout}.")
    real, fake = as_batch(real, "real"), as_batch(fake, "fake")
    train_r, test_r = split(real, [1 - holdout, holdout], seed=seed)
    train_f, test_f = split(fake, [1 - holdout, holdout], seed=seed + 1)
    if min(len(train_r), len(test_r), len(train_f), len(test_f)) < 2:
        raise InputError(f"with holdout={holdout}, {len(real)} real and {len(fake)} fake samples leave fewer than 2 for training or evaluation; pass more samples.")
    return train_r, train_f, test_r, test_f


def net_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if not hasattr(net, "features"):
        raise InputError(f"a network of type {type(net).__name__} has no features() method; build it with make_critic_net.")
    return net.features(x)  # type: ignore[operator]


def net_values(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x)


class TrainableCritic(Critic):
    """A critic whose network is trained on a real and a fake set.

    The network is `net` if given, else `make_critic_net(shape, hidden)`, built on first use
    for the shape of the data when `shape` is None. Before `fit`, scores and features are
    those of the randomly initialised network: it warns once, and `feature_kind` says
    ``"random-feature"`` so that divergences computed on its features are labelled honestly.
    """

    trainable = True

    def __init__(self, shape: tuple[int, ...] | None = None, hidden: int = 256, net: nn.Module | None = None, seed: int = 0) -> None:
        super().__init__()
        self.shape = tuple(shape) if shape is not None else None
        self.hidden = hidden
        self.seed = seed
        self.net: nn.Module | None = net
        self.fitted = False
        self._warned = False
        self.history: list[float] = []

    @property
    def feature_kind(self) -> str:
        return "trained-critic" if self.fitted else "random-feature"

    def _ensure_net(self, x: torch.Tensor) -> nn.Module:
        shape = tuple(x.shape[1:])
        if self.shape is None:
            self.shape = shape
        elif shape != self.shape and x[0].numel() != torch.Size(self.shape).numel():
            raise InputError(f"critic {component_name(self)!r} works on samples of shape {self.shape} but got {shape}; build one critic per data shape.")
        if self.net is None:
            torch.manual_seed(self.seed)  # reproducible initial weights
            self.net = make_critic_net(self.shape, self.hidden).to(x.device)
        return self.net

    def _run(self, x: torch.Tensor, fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """fn(net, x) on x brought to the network's shape, device and dtype; the result in x's dtype."""
        net = self._ensure_net(x)
        if not self.fitted and not self._warned:
            self._warned = True
            warnings.warn(f"critic {component_name(self)!r} has not been fitted: its outputs are those of a randomly initialised network; call fit(real, fake) first.", RuntimeWarning, stacklevel=3)
        param = next(net.parameters(), None)
        xx = x.reshape(x.shape[0], *self.shape)  # type: ignore[misc]
        if param is not None:
            xx = xx.to(device=param.device, dtype=param.dtype)
        return fn(net, xx).to(x.dtype)

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output per sample (higher = more real); images or N×D samples."""
        x = as_batch(x, "x")
        with torch.no_grad():
            return self._run(x, net_values)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        """−net(x): the network is trained to be high on real samples, and lower scores are more real."""
        with torch.no_grad():
            return -self._run(x, net_values)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations, N×hidden (what Fréchet / MMD divergences can use)."""
        x = as_batch(x, "x")
        with torch.no_grad():
            return self._run(x, net_features)

    def _train(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        loss: Loss,
        *,
        steps: int,
        lr: float,
        batch_size: int,
        betas: tuple[float, float],
        seed: int,
        progress: bool,
        weight_decay: float = 0.0,
    ) -> None:
        real, fake = as_batch(real, "real"), as_batch(fake, "fake")
        if real.shape[1:] != fake.shape[1:]:
            raise InputError(f"real samples have shape {tuple(real.shape[1:])} but fake ones {tuple(fake.shape[1:])}; both sets must have one shape.")
        if steps < 1 or lr <= 0 or batch_size < 1:
            raise InputError(f"steps and batch_size must be at least 1 and lr positive, got steps={steps}, batch_size={batch_size}, lr={lr}.")
        net = self._ensure_net(real)
        param = next(net.parameters())
        real = real.reshape(real.shape[0], *self.shape).to(param)  # type: ignore[misc]
        fake = fake.reshape(fake.shape[0], *self.shape).to(param)  # type: ignore[misc]
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)
        index_gen = torch.Generator().manual_seed(seed)
        noise_gen = torch.Generator(device=param.device).manual_seed(seed)
        b = min(batch_size, real.shape[0], fake.shape[0])  # equal halves: the penalty pairs them up
        net.train()
        losses = []
        for _ in tqdm(range(steps), desc=f"training {component_name(self)}", disable=not progress, leave=False):
            ir = torch.randint(real.shape[0], (b,), generator=index_gen).to(param.device)
            jf = torch.randint(fake.shape[0], (b,), generator=index_gen).to(param.device)
            value = loss(net, real[ir], fake[jf], noise_gen)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            losses.append(value.detach())
        self.history = torch.stack(losses).tolist()
        net.eval()
        self.fitted = True
