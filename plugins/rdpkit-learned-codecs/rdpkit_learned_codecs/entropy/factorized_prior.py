"""The factorized prior of Ballé et al. (ICLR 2018, appendix 6.1): one learned density per channel.

Each channel's cumulative c(v) is a sigmoid of a small monotone network (filters 1-3-3-3-3-1,
softplus matrices, tanh gates), exactly CompressAI's EntropyBottleneck, so its checkpoints map
across. The likelihood of a quantised value is c(v + ½) − c(v − ½), computed on the side of
the median where the sigmoids do not saturate. Unlike CompressAI, no auxiliary loss learns the
tails: `tables()` finds each channel's range by bisection on c, in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
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

FILTERS = (3, 3, 3, 3)
INIT_SCALE = 10.0
#: Likelihoods are bounded below so that −log2 stays finite (CompressAI's bound).
LIKELIHOOD_BOUND = 1e-9
#: The range searched for each channel's tails.
SEARCH = 2.0**15


class FactorizedDensity(nn.Module):
    """A learned univariate density per channel for integer-quantised latents."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        dims = (1, *FILTERS, 1)
        scale = INIT_SCALE ** (1 / (len(FILTERS) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(FILTERS) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(FILTERS):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        self.channels = channels
        register_table_buffers(self)

    def table_problem(self) -> str | None:
        """What makes the stored tables unfit for this architecture (one per channel), or None; see tables.stored_problem."""
        return stored_problem(self, self.channels)

    def logits_cdf(self, v: torch.Tensor) -> torch.Tensor:
        """logit c(v) for v of shape C×1×n (one row of points per channel)."""
        logits = v
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            logits = torch.matmul(F.softplus(matrix.to(v)), logits) + bias.to(v)
            if i < len(self.factors):
                logits = logits + torch.tanh(self.factors[i].to(v)) * torch.tanh(logits)
        return logits

    def likelihood(self, v: torch.Tensor) -> torch.Tensor:
        """P(V = v) of every entry of v (N×C×H×W, integers or noisy values), bounded below."""
        n, c, h, w = v.shape
        flat = v.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cdf(flat - 0.5)
        upper = self.logits_cdf(flat + 0.5)
        sign = -torch.sign(lower + upper).detach()
        p = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        p = lower_bound(p, LIKELIHOOD_BOUND)
        return p.reshape(c, n, h, w).permute(1, 0, 2, 3)

    @torch.no_grad()
    def tables(self) -> Tables:
        """One integer table per channel over the values that hold all but TAIL_MASS of its mass, in float64 on the CPU."""
        model = _cpu_double(self)
        lo = _quantile(model, TAIL_MASS / 2)
        hi = _quantile(model, 1 - TAIL_MASS / 2)
        lows = np.floor(lo).astype(np.int64)
        highs = np.maximum(np.ceil(hi).astype(np.int64), lows)
        too_wide = highs - lows + 1 > MAX_VALUES
        centre = np.floor((lo + hi) / 2).astype(np.int64)
        lows = np.where(too_wide, centre - MAX_VALUES // 2, lows)
        highs = np.where(too_wide, lows + MAX_VALUES - 1, highs)
        pmfs = []
        for ch in range(self.channels):
            v = torch.arange(lows[ch], highs[ch] + 1, dtype=torch.float64).view(1, 1, -1)
            pmfs.append(_pmf(model, ch, v))
        return from_pmfs(pmfs, lows.tolist())


def _cpu_double(density: FactorizedDensity) -> FactorizedDensity:
    copy = FactorizedDensity(density.channels)
    copy.load_state_dict({k: v.detach().cpu() for k, v in density.state_dict().items() if not k.startswith("table_")}, strict=False)
    return copy.double()


def _pmf(model: FactorizedDensity, ch: int, v: torch.Tensor) -> np.ndarray:
    sub = FactorizedDensity(1).double()
    sub.load_state_dict({k: t[ch : ch + 1] for k, t in model.state_dict().items() if not k.startswith("table_")}, strict=False)
    lower, upper = sub.logits_cdf(v - 0.5), sub.logits_cdf(v + 0.5)
    sign = -torch.sign(lower + upper)
    return (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs().ravel().numpy()


def _quantile(model: FactorizedDensity, q: float) -> np.ndarray:
    """Each channel's value where c(v) = q, by bisection (c is monotone by construction)."""
    target = math.log(q / (1 - q))
    lo = torch.full((model.channels, 1, 1), -SEARCH, dtype=torch.float64)
    hi = torch.full((model.channels, 1, 1), SEARCH, dtype=torch.float64)
    for _ in range(80):
        mid = (lo + hi) / 2
        below = model.logits_cdf(mid) < target
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return ((lo + hi) / 2).ravel().numpy()
