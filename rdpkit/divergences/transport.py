"""Exact optimal transport between two sample sets (POT's network simplex), for sets of a few thousand."""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from ..interfaces import Divergence, Estimate
from . import checks


class WassersteinExact(Divergence):
    """W_p (W1 or W2, the distance, not its p-th power) between the empirical laws, with Euclidean ground distance.

    Bias: upward, of order n^(-1/d) in dimension d (the curse of dimensionality of
    empirical OT): fine in 1 to 3 dimensions, large above. The standard error is the delta
    method's with the optimal dual potentials (f, g) as influence functions:
    Var(W_pᵖ) ≈ Var_p f / n + Var_q g / m, valid when p ≠ q (it understates at p = q).
    Cost: O(n³); sets larger than `max_samples` are refused. The transport is solved on the
    samples divided by a power of two (exact in floating point), so the cost matrix neither
    overflows nor underflows at any scale.
    """

    bounds = (0.0, math.inf)

    def __init__(self, p: int = 2, max_samples: int = 5000) -> None:
        self.p = checks.integer("p", p, "1 (W1) or 2 (W2)", lambda v: v in (1, 2))
        self.max_samples = checks.integer("max_samples", max_samples, "a positive number of samples", lambda v: v >= 1)

    @property
    def quantity(self) -> str:  # type: ignore[override]
        return f"W{self.p}"

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        import ot

        if max(p.shape[0], q.shape[0]) > self.max_samples:
            raise InputError(f"exact optimal transport on {p.shape[0]} and {q.shape[0]} samples would take too long (limit max_samples={self.max_samples}); use wasserstein-sinkhorn or wasserstein-sliced, or subsample.")
        p, q = p.double(), q.double()
        t = checks.power_of_two_scale(p, q)
        x, y = (p / t).cpu().numpy(), (q / t).cpu().numpy()
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
        # Everything above is in units of the rescaled samples: W scales by t, W^p by t^p (a product,
        # not t**p, which raises OverflowError where the product is merely inf).
        return Estimate(t * value, t * float(stderr), min(len(x), len(y)), quantity=self.quantity,
                        details={f"W{self.p}^{self.p}": total * t * t if self.p == 2 else total * t, "n_p": len(x), "n_q": len(y)})
