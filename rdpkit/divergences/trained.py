"""Divergence estimates from a network trained on one split of the samples and evaluated on the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..critics.classifier import held_out_tv
from ..critics.wgan import held_out_w1
from ..interfaces import Divergence, Estimate


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

    def __init__(self, holdout: float = 0.5, hidden: int = 128, steps: int = 300, lr: float = 1e-3, gp_weight: float = 10.0,
                 one_sided: bool = True, batch_size: int = 256, seed: int = 0, progress: bool = False, threads: int | None = 1) -> None:
        self.threads = threads
        self.options = {"holdout": holdout, "hidden": hidden, "steps": steps, "lr": lr, "gp_weight": gp_weight,
                        "one_sided": one_sided, "batch_size": batch_size, "seed": seed, "progress": progress}

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        with torch_threads(self.threads):
            return held_out_w1(p, q, **self.options)


class TVClassifier(Divergence):
    """A lower bound on TV: TPR + TNR − 1 of a classifier trained on a split of each set, on the held-out rest.

    For any classifier this is an unbiased estimate of P(A) − Q(A) ≤ TV(p, q), A the set it
    calls real, so it is a valid lower bound in expectation (tight for the Bayes classifier);
    at p = q it is centred on 0 and can be negative. The standard error is binomial, from
    add-one smoothed rates; the interval is value ± z·stderr. `threads`: as for wasserstein-critic.
    """

    quantity = "TV lower bound"

    def __init__(self, holdout: float = 0.5, hidden: int = 128, steps: int = 200, lr: float = 1e-3, weight_decay: float = 0.0,
                 batch_size: int = 256, seed: int = 0, progress: bool = False, threads: int | None = 1) -> None:
        self.threads = threads
        self.options = {"holdout": holdout, "hidden": hidden, "steps": steps, "lr": lr, "weight_decay": weight_decay,
                        "batch_size": batch_size, "seed": seed, "progress": progress}

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        with torch_threads(self.threads):
            return held_out_tv(p, q, **self.options)
