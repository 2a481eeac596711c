"""The Gaussian conditional of the hyperprior codecs: y ~ N(μ, σ²) convolved with U(−½, ½), σ from a scale table.

Training uses the continuous σ the hyper-synthesis predicts. Coding uses σ rounded up to the
next entry of a fixed table of scales (CompressAI's: 64 values, log-spaced from 0.11 to 256),
one integer frequency table per entry, stored with the model. Which entry a latent uses is
decided by integer comparisons (`scale_indices`) on the hyper-synthesis's integer output
(integer_net.py), so encoder and decoder agree on every machine.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..networks.gdn import lower_bound
from .tables import (
    MAX_VALUES,
    TAIL_MASS,
    Tables,
    from_pmfs,
    register_table_buffers,
    stored_problem,
)

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64
LIKELIHOOD_BOUND = 1e-9


def default_scale_table() -> torch.Tensor:
    return torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


def _std_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x * (2**-0.5))


class GaussianConditional(nn.Module):
    """Likelihoods of Gaussian latents for training, integer tables for coding."""

    def __init__(self, scale_table: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("scale_table", default_scale_table() if scale_table is None else scale_table.float())
        register_table_buffers(self)

    def table_problem(self) -> str | None:
        """What makes the scale table or the stored tables (one per scale) unusable, or None; see tables.stored_problem.

        The scale table's shape is the architecture's (models/restore.py checks it with every weight's); its scales must be
        positive, as the tables divide by them.
        """
        s = self.scale_table
        if not (bool(torch.isfinite(s).all()) and float(s.min()) > 0):
            return "its scale_table holds scales that are not positive"
        return stored_problem(self, s.numel())

    def likelihood(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None) -> torch.Tensor:
        """P(Y = y) for each entry under N(means, scales²) ⊛ U(−½, ½), with σ ≥ the table's smallest scale."""
        values = (y - means if means is not None else y).abs()
        s = lower_bound(scales, float(self.scale_table[0]))
        # Both tails on the far side of the mean, where the normal CDF keeps its precision.
        p = _std_normal_cdf((0.5 - values) / s) - _std_normal_cdf((-0.5 - values) / s)
        return lower_bound(p, LIKELIHOOD_BOUND)

    @torch.no_grad()
    def tables(self) -> Tables:
        """One table per scale: the integers within ±⌈σ·z⌉ (z the normal quantile of TAIL_MASS/2), in float64 on the CPU."""
        z = -float(torch.special.ndtri(torch.tensor(TAIL_MASS / 2, dtype=torch.float64)))
        pmfs, lows = [], []
        for s in self.scale_table.detach().cpu().double().tolist():
            r = min(math.ceil(s * z), MAX_VALUES // 2)
            v = torch.arange(-r, r + 1, dtype=torch.float64)
            a = v.abs()
            pmfs.append((_std_normal_cdf((0.5 - a) / s) - _std_normal_cdf((-0.5 - a) / s)).numpy())
            lows.append(-r)
        return from_pmfs(pmfs, lows)

    def thresholds(self, fraction_bits: int) -> torch.Tensor:
        """⌊s_j·2**fraction_bits⌋ for every scale but the last, int64: exact (a power-of-two product and a floor)."""
        return torch.floor(self.scale_table[:-1].double().cpu() * 2.0**fraction_bits).long()


def scale_indices(scales_fixed: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """The table entry for each scale given in fixed point (integers): the first table scale ≥ σ, as CompressAI picks it.

    s_j < σ = S/2**f holds exactly when ⌊s_j·2**f⌋ < S for an integer S, so the index is a
    count of integer comparisons, the same on every machine.
    """
    return torch.searchsorted(thresholds, scales_fixed.contiguous(), right=False)
