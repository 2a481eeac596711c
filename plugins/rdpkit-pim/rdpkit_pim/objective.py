"""The training objective: the stochastic lower bound "IXYZ" on the multivariate mutual information I(X; Y; Z).

For a pair (x, y) of temporally close images and z drawn from the joint encoder p(z | x, y),

    I(X; Y; Z) = I(X; Z) + I(Y; Z) − I(X, Y; Z) = E[ log p(z | x) p(z | y) / (p(z | x, y) p(z)) ].

Two substitutions make this computable and keep it a lower bound:

- the true conditionals p(z | x), p(z | y) are replaced by the marginal encoders q(z | x),
  q(z | y); the gap is E KL(p(z | x) ‖ q(z | x)) + E KL(p(z | y) ‖ q(z | y)) ≥ 0;
- the marginal p(z) is replaced by the minibatch marginal p̂(z_i) = (1/M) Σ_j p(z_i | x_j, y_j),
  the InfoNCE estimate, which satisfies E[−log p̂(z)] ≤ E[−log p(z)]. This term is what
  makes the loss contrastive: z_i must be likelier under its own pair than under the others.

rdpkit-pim treats every location of every image of the minibatch as one sample of each
scale (the encoders act per location), so the minibatch marginal runs over M locations
drawn at random from the whole batch. The bound is averaged over scales.
"""

from __future__ import annotations

import math

import torch

from .gaussian import log_density, pairwise_log_density
from .model import PIMModel

#: Locations per scale that enter the minibatch marginal (cost grows with its square).
CONTRAST_LOCATIONS = 512


def _locations(feats: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The feature vectors at flat location indices `idx`, as M×C×1×1 (what 1×1 convolutions take)."""
    c = feats.shape[1]
    return feats.permute(0, 2, 3, 1).reshape(-1, c)[idx][:, :, None, None]


def _squeeze(g: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return g[0].flatten(0, 2), g[1].flatten(0, 2)


def ixyz_bound(
    model: PIMModel,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator | None = None,
    locations: int = CONTRAST_LOCATIONS,
) -> torch.Tensor:
    """A one-sample Monte-Carlo estimate of the IXYZ bound in nats per location (maximise it)."""
    bounds = []
    # The encoders act per location, so they run only where the bound is evaluated.
    for scale, (fx, fy) in enumerate(zip(model.features(x), model.features(y))):
        total = fx.shape[0] * fx.shape[2] * fx.shape[3]
        m = min(locations, total)
        idx = torch.randperm(total, generator=generator)[:m].to(x.device)
        vx, vy = _locations(fx, idx), _locations(fy, idx)
        mx, lx = _squeeze(model.marginal(scale, vx))
        my, ly = _squeeze(model.marginal(scale, vy))
        mj, lj = _squeeze(model.joint(scale, vx, vy))
        eps = torch.randn(mj.shape, generator=generator, dtype=mj.dtype).to(mj.device)
        z = mj + torch.exp(0.5 * lj) * eps  # reparameterised draw from p(z | x, y)
        log_joint_all = pairwise_log_density(z, mj, lj)  # [i, j] = log p(z_i | x_j, y_j)
        log_minibatch_marginal = torch.logsumexp(log_joint_all, dim=1) - math.log(m)
        bound = log_density(z, mx, lx) + log_density(z, my, ly) - log_joint_all.diagonal() - log_minibatch_marginal
        bounds.append(bound.mean())
    return torch.stack(bounds).mean()
