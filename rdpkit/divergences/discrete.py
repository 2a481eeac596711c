"""Plug-in TV and KL between the empirical laws of discrete samples.

Each row of a sample set is one symbol. Continuous samples are quantised first (`bins`):
each feature is cut into equal-mass bins of the pooled sample, so the result is the
divergence between the quantised laws, which by data processing is at most the divergence
between the original ones.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from ..errors import InputError
from ..interfaces import Divergence, Estimate
from . import checks

#: With bins="auto", samples count as discrete when symbols repeat this often on average.
AUTO_MIN_REPEATS = 5
#: With bins="auto", continuous samples get about this many samples per occupied cell.
AUTO_SAMPLES_PER_CELL = 10


def _quantise(pooled: torch.Tensor, bins: int) -> torch.Tensor:
    qs = torch.linspace(0, 1, bins + 1, dtype=torch.float64, device=pooled.device)[1:-1]
    edges = torch.quantile(pooled.double(), qs, dim=0).T.contiguous()  # D×(bins−1)
    return torch.searchsorted(edges, pooled.double().T.contiguous(), right=True).T


def counts(p: torch.Tensor, q: torch.Tensor, bins: int | str | None) -> tuple[torch.Tensor, torch.Tensor, int | None]:
    """Symbol counts of p and q over the symbols seen in either (K each), and the bins used.

    `bins`: None uses rows as they are; an int quantises every feature into that many
    equal-mass bins of the pooled sample; "auto" uses rows as they are when symbols repeat
    (at most 1 distinct row in 5 samples) and else picks about (N/10)^(1/D) bins per feature.
    """
    pooled = torch.cat([p, q])
    used: int | None = None
    if bins == "auto":
        distinct = torch.unique(pooled, dim=0).shape[0]
        if distinct * AUTO_MIN_REPEATS > pooled.shape[0]:
            used = max(2, int((pooled.shape[0] / AUTO_SAMPLES_PER_CELL) ** (1 / pooled.shape[1])))
    elif bins is not None:
        if not isinstance(bins, int) or isinstance(bins, bool) or bins < 2:
            raise InputError(f"bins must be None (rows are symbols), 'auto' or an integer of at least 2, got {bins!r}.")
        used = bins
    symbols = _quantise(pooled, used) if used else pooled
    _, inverse = torch.unique(symbols, dim=0, return_inverse=True)
    k = int(inverse.max()) + 1
    n = p.shape[0]
    cp = torch.bincount(inverse[:n], minlength=k).double()
    cq = torch.bincount(inverse[n:], minlength=k).double()
    return cp, cq, used


class _Discrete(Divergence):
    #: Estimators of laws on symbols: the contract tests (rdpkit.testing.check_divergence) give
    #: them integer samples, since on continuous ones "auto" may quantise too coarsely to see a spread.
    discrete: ClassVar[bool] = True

    def __init__(self, bins: int | str | None = "auto") -> None:
        if not (bins is None or bins == "auto" or (isinstance(bins, int) and not isinstance(bins, bool) and bins >= 2)):
            raise InputError(f"bins must be None (rows are symbols), 'auto' or an integer of at least 2, got {bins!r}.")
        self.bins = bins


class TVDiscrete(_Discrete):
    """TV(p̂, q̂) = ½ Σ |p̂ᵢ − q̂ᵢ| between the empirical laws (see the module docstring for `bins`).

    Bias: upward. At p = q it is about ½ Σᵢ sqrt(2 pᵢ(1 − pᵢ)(1/n_p + 1/n_q)/π) > 0, so it
    needs many samples per symbol. The standard error is the delta method's: with
    s = sign(p̂ − q̂), Var ≈ ¼ (Var_p s / n_p + Var_q s / n_q).
    """

    quantity = "TV"
    bounds = (0.0, 1.0)

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        cp, cq, used = counts(p, q, self.bins)
        fp, fq = cp / cp.sum(), cq / cq.sum()
        s = torch.sign(fp - fq)
        var = (fp @ s**2 - (fp @ s) ** 2) / cp.sum() + (fq @ s**2 - (fq @ s) ** 2) / cq.sum()
        value = 0.5 * float((fp - fq).abs().sum())
        return Estimate(value, 0.5 * math.sqrt(max(float(var), 0.0)), min(p.shape[0], q.shape[0]), quantity=self.quantity,
                        details={"symbols": fp.numel(), "bins_per_feature": used})


class KLDiscrete(_Discrete):
    """KL(p̂ ‖ q̂) in nats between add-α smoothed empirical laws over the K symbols seen in either set.

    `smoothing` α (0.5 by default, Krichevsky–Trofimov) keeps the value finite when q lacks a
    symbol p has; α = 0 is the pure plug-in, infinite then. Bias: upward; at p = q it is
    about (K − 1)(1/n_p + 1/n_q)/2, reported as `details["bias_at_equal_laws"]`. The standard
    error is the delta method's: Var ≈ Var_p log(p/q) / n_p + Var_q (p/q) / n_q.
    """

    quantity = "KL (nats)"
    bounds = (0.0, math.inf)
    can_be_infinite = True

    def __init__(self, bins: int | str | None = "auto", smoothing: float = 0.5) -> None:
        super().__init__(bins)
        self.smoothing = checks.number("smoothing", smoothing, "a non-negative number (a pseudo-count per symbol)", lambda v: v >= 0)

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        cp, cq, used = counts(p, q, self.bins)
        a = self.smoothing
        fp, fq = (cp + a) / (cp.sum() + a * cp.numel()), (cq + a) / (cq.sum() + a * cq.numel())
        on = fp > 0
        fp, fq = fp[on], fq[on]
        log_ratio = torch.log(fp) - torch.log(fq)
        value = float(fp @ log_ratio)
        ratio = fp / fq
        var = (fp @ log_ratio**2 - value**2) / cp.sum() + (fq @ ratio**2 - (fq @ ratio) ** 2) / cq.sum()
        stderr = math.sqrt(max(float(var), 0.0)) if math.isfinite(value) else math.inf
        k = int(on.sum())
        return Estimate(value, stderr, min(p.shape[0], q.shape[0]), quantity=self.quantity,
                        details={"symbols": k, "bins_per_feature": used, "smoothing": a,
                                 "bias_at_equal_laws": (k - 1) * (1 / p.shape[0] + 1 / q.shape[0]) / 2})
