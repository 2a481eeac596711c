"""Exact optimal transport between two sample sets (POT's network simplex), for sets of a few thousand."""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from ..interfaces import Divergence, Estimate


class WassersteinExact(Divergence):
    """W_p (W1 or W2, the distance, not its p-th power) between the empirical laws, with Euclidean ground distance.

    Bias: upward, of order n^(-1/d) in dimension d (the curse of dimensionality of
    empirical OT): fine in 1 to 3 dimensions, large above. The standard error is the delta
    method's with the optimal dual potentials (f, g) as influence functions:
    Var(W_pᵖ) ≈ Var_p f / n + Var_q g / m, valid when p ≠ q (it understates at p = q).
    Cost: O(n³); sets larger than `max_samples` are refused.
    """

    def __init__(self, p: int = 2, max_samples: int = 5000) -> None:
        if p not in (1, 2):
            raise InputError(f"p must be 1 (W1) or 2 (W2), got {p!r}.")
        self.p = p
        self.max_samples = max_samples

    @property
    def quantity(self) -> str:  # type: ignore[override]
        return f"W{self.p}"

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        import ot

        if max(p.shape[0], q.shape[0]) > self.max_samples:
            raise InputError(f"exact optimal transport on {p.shape[0]} and {q.shape[0]} samples would take too long (limit max_samples={self.max_samples}); use wasserstein-sinkhorn or wasserstein-sliced, or subsample.")
        x, y = p.detach().double().cpu().numpy(), q.detach().double().cpu().numpy()
        cost = ot.dist(x, y, metric="sqeuclidean" if self.p == 2 else "euclidean")
        a, b = ot.unif(len(x)), ot.unif(len(y))
        total, log = ot.emd2(a, b, cost, numItermax=max(100_000, 50 * len(x) * len(y)), log=True)
        if log.get("warning"):
            raise InputError(f"exact optimal transport did not converge ({log['warning']}); use wasserstein-sinkhorn instead.")
        total = max(float(total), 0.0)
        var = log["u"].var(ddof=1) / len(x) + log["v"].var(ddof=1) / len(y)
        value = total ** (1 / self.p)
        # Delta method from W^p to W: d(W)/d(W^p) = 1 / (p W^(p-1)).
        stderr = math.sqrt(var) / (self.p * value ** (self.p - 1)) if value > 0 else math.sqrt(var) ** (1 / self.p)
        return Estimate(value, float(stderr), min(len(x), len(y)), quantity=self.quantity,
                        details={f"W{self.p}^{self.p}": total, "n_p": len(x), "n_q": len(y)})
