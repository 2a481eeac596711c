"""Divergence estimates from a network trained on one split of the samples and evaluated on the other."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..critics.classifier import held_out_tv
from ..critics.wgan import held_out_w1
from ..interfaces import Divergence, Estimate
from . import checks


def training_options(holdout: Any, hidden: Any, steps: Any, lr: Any, batch_size: Any, seed: Any, progress: Any, threads: Any) -> dict[str, Any]:
    """The options both trained estimators share, checked (the networks would fail on them deep inside torch)."""
    if threads is not None:
        checks.integer("threads", threads, "None (leave torch's thread count) or a positive number of threads", lambda v: v >= 1)
    return {"holdout": checks.number("holdout", holdout, "a number strictly between 0 and 1 (the fraction kept for evaluation)", lambda v: 0 < v < 1),
            "hidden": checks.integer("hidden", hidden, "a positive number of hidden units", lambda v: v >= 1),
            "steps": checks.integer("steps", steps, "a positive number of training steps", lambda v: v >= 1),
            "lr": checks.number("lr", lr, "a positive learning rate", lambda v: v > 0),
            "batch_size": checks.integer("batch_size", batch_size, "a positive number of samples per step", lambda v: v >= 1),
            "seed": checks.seed("seed", seed), "progress": checks.flag("progress", progress)}


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `threads` (None: unchanged) inside the block.

    The count is process-wide: do not train in several Python threads at once with this.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class WassersteinCritic(Divergence):
    """W1 from a fresh WGAN-GP critic, trained on a split of each set, evaluated on the held-out rest.

    The perception index of Blau & Michaeli (ICML 2019, footnote 7). Bias: downward when the
    critic is under-trained or too small to find the best 1-Lipschitz function; upward by
    about W1²/(2·gp_weight) because the gradient penalty is soft (see rdpkit.critics.wgan).
    The standard error (difference of held-out means) ignores the randomness of training.
    `threads` is torch's thread count while training (None: unchanged): these small
    networks train several times faster on one thread than on two busy ones.
    """

    quantity = "W1"
    bounds = (0.0, math.inf)

    def __init__(self, holdout: float = 0.5, hidden: int = 128, steps: int = 300, lr: float = 1e-3, gp_weight: float = 10.0,
                 one_sided: bool = True, batch_size: int = 256, seed: int = 0, progress: bool = False, threads: int | None = 1) -> None:
        self.threads = threads
        self.options = training_options(holdout, hidden, steps, lr, batch_size, seed, progress, threads)
        self.options["gp_weight"] = checks.number("gp_weight", gp_weight, "a positive number (λ of the gradient penalty)", lambda v: v > 0)
        self.options["one_sided"] = checks.flag("one_sided", one_sided)

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        with torch_threads(self.threads):
            return held_out_w1(p, q, **self.options)


class TVClassifier(Divergence):
    """A lower bound on TV: TPR + TNR − 1 of a classifier trained on a split of each set, on the held-out rest.

    For any classifier this is an unbiased estimate of P(A) − Q(A) ≤ TV(p, q), A the set it
    calls real, so it is a valid lower bound in expectation (tight for the Bayes classifier);
    at p = q it is centred on 0 and can be negative (its range is that of P(A) − Q(A), −1 to 1).
    The standard error is binomial, from add-one smoothed rates; the interval is value ± z·stderr.
    `threads`: as for wasserstein-critic.
    The classifier sees the samples centred and divided by their scale (the root mean square of
    the pooled per-feature standard deviations): a bijection, which leaves TV unchanged, and
    keeps the float32 network's inputs near 1 whatever the samples' magnitude (at 1e200 they
    overflowed and the bound came out as −1).
    """

    quantity = "TV lower bound"
    bounds = (-1.0, 1.0)

    def __init__(self, holdout: float = 0.5, hidden: int = 128, steps: int = 200, lr: float = 1e-3, weight_decay: float = 0.0,
                 batch_size: int = 256, seed: int = 0, progress: bool = False, threads: int | None = 1) -> None:
        self.threads = threads
        self.options = training_options(holdout, hidden, steps, lr, batch_size, seed, progress, threads)
        self.options["weight_decay"] = checks.number("weight_decay", weight_decay, "a non-negative number", lambda v: v >= 0)

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        x, y, _ = checks.standardise(p, q)
        with torch_threads(self.threads):
            return held_out_tv(x, y, **self.options)
