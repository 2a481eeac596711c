"""Exact Wasserstein distances between 1-D samples, through their quantile functions.

    W_p^p = ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p du,

exact for the empirical laws of any sizes n and m (for n = m it is the mean of |x₍ᵢ₎ − y₍ᵢ₎|^p
over the sorted samples). Batched over columns, so sliced Wasserstein uses it too. The
estimators compute it on the samples divided by a power of two (`checks.power_of_two_scale`),
so W_p is found for samples of any magnitude whose W_p float64 can hold.
"""

from __future__ import annotations

import math

import torch

from ..interfaces import Divergence, Estimate
from . import checks


def quantile_cost(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """∫ |F⁻¹ − G⁻¹|^p du for each column of x (n×L) and y (m×L): a tensor of L costs."""
    xs, ys = x.sort(0).values, y.sort(0).values
    n, m = xs.shape[0], ys.shape[0]
    if n == m:
        return (xs - ys).abs().pow(p).mean(0)
    # Merge the breakpoints i/n and j/m; on each piece both quantile functions are constant.
    u = torch.cat([torch.arange(1, n + 1, dtype=torch.float64, device=x.device) / n,
                   torch.arange(1, m + 1, dtype=torch.float64, device=x.device) / m]).sort().values
    du = torch.diff(u, prepend=u.new_zeros(1))
    mid = u - du / 2
    ix = (mid * n).long().clamp(max=n - 1)
    iy = (mid * m).long().clamp(max=m - 1)
    return ((xs[ix] - ys[iy]).abs().pow(p) * du.to(xs.dtype)[:, None]).sum(0)


class _OneDim(Divergence):
    order: int = 1
    dimension = 1
    bounds = (0.0, math.inf)
    stderr_resamples = 50  # no closed-form standard error: bootstrap (sorting is cheap)

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        p, q = p.double(), q.double()
        t = checks.power_of_two_scale(p, q)
        cost = float(quantile_cost(p / t, q / t, self.order)[0])
        return Estimate(t * cost ** (1 / self.order), float("nan"), min(p.shape[0], q.shape[0]), quantity=self.quantity,
                        details={"n_p": p.shape[0], "n_q": q.shape[0]})


class W1OneDim(_OneDim):
    """W1 between the empirical laws of two 1-D sample sets (as scipy.stats.wasserstein_distance).

    Bias: upward (the empirical laws are never closer than the true ones on average: at
    p = q it is of order n^(-1/2)). Standard error and interval by bootstrap.
    """

    quantity = "W1"
    order = 1


class W2OneDim(_OneDim):
    """W2 (not W2²) between the empirical laws of two 1-D sample sets.

    Bias: upward, of order n^(-1/2) at p = q. Standard error and interval by bootstrap.
    """

    quantity = "W2"
    order = 2
