"""A trainable real-vs-fake classifier, and the lower bound on total variation it gives.

For any classifier, with A the set it labels "real", P(A) − Q(A) ≤ TV(P, Q). Its held-out
true-positive rate estimates P(A) and its true-negative rate 1 − Q(A), so
TPR + TNR − 1 = 2·(balanced accuracy) − 1 is an unbiased estimate of a lower bound on TV; the
best classifier reaches TV itself (success probability 1/2 + TV/2; Blau & Michaeli 2018).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..interfaces import Estimate
from .trainable import TrainableCritic, as_batch, holdout_split


class ClassifierCritic(TrainableCritic):
    """A network trained with balanced logistic loss to tell real samples (label 1) from fake (0).

    `outputs(x)` is logit P(real | x) for images or N×D samples; ``score(x)`` is the log-odds
    that x is fake, −logit(real | x): lower is more real, and
    for a well-trained classifier on equal-prior sets it approximates log q(x)/p(x).
    """

    def fit(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        *,
        steps: int = 500,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        seed: int = 0,
        progress: bool = False,
    ) -> ClassifierCritic:
        """Train on image batches N×C×H×W in [0, 1] or sample sets N×D; returns self."""

        def loss(net: nn.Module, r: torch.Tensor, f: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            lr_, lf = net(r), net(f)
            return F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_)) + F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))

        self._train(real, fake, loss, steps=steps, lr=lr, batch_size=batch_size, betas=(0.9, 0.999), seed=seed, progress=progress,
                    weight_decay=weight_decay)
        return self

    def tv_lower_bound(self, real: torch.Tensor, fake: torch.Tensor) -> Estimate:
        """TPR + TNR − 1 on these samples (evaluate on held-out ones), with its standard error.

        The standard error uses add-one smoothed rates (Agresti–Caffo), so it is positive
        even when a rate is 0 or 1.
        """
        tp = int((self.outputs(real) > 0).sum())
        tn = int((self.outputs(fake) <= 0).sum())
        n_r, n_f = as_batch(real, "real").shape[0], as_batch(fake, "fake").shape[0]
        value = tp / n_r + tn / n_f - 1
        a, b = (tp + 1) / (n_r + 2), (tn + 1) / (n_f + 2)
        stderr = math.sqrt(a * (1 - a) / (n_r + 2) + b * (1 - b) / (n_f + 2))
        return Estimate(value, stderr, min(n_r, n_f), quantity="TV lower bound",
                        details={"tpr": tp / n_r, "tnr": tn / n_f, "n_real": n_r, "n_fake": n_f})


def held_out_tv(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    holdout: float = 0.5,
    hidden: int = 256,
    seed: int = 0,
    **fit_options: Any,
) -> Estimate:
    """The TV lower bound of a fresh classifier trained on one split of each set, evaluated on the other.

    `fit_options` go to `ClassifierCritic.fit` (steps, lr, weight_decay, batch_size, progress).
    """
    train_r, train_f, test_r, test_f = holdout_split(real, fake, holdout, seed)
    clf = ClassifierCritic(hidden=hidden, seed=seed).fit(train_r, train_f, seed=seed, **fit_options)
    est = clf.tv_lower_bound(test_r, test_f)
    return Estimate(est.value, est.stderr, est.n, quantity=est.quantity, details={**est.details, "holdout": holdout, **fit_options})
