"""Diagonal Gaussians given by (mean, log-variance): log density and symmetrised KL divergence.

Both act on the last dimension (the components of z) and keep every leading dimension, so
they apply unchanged to whole maps N×H×W×d, to lists of locations M×d, and, by
broadcasting, to all pairs of locations M×1×d against 1×M×d.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * ((z - mean).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def symmetrised_kl(mean_a: torch.Tensor, logvar_a: torch.Tensor, mean_b: torch.Tensor, logvar_b: torch.Tensor) -> torch.Tensor:
    """KL(a ‖ b) + KL(b ‖ a) in nats, summed over the last dimension; exactly 0 when a = b.

    The log-determinant terms of the two directions cancel, which leaves
    ½ Σ [v_a/v_b + v_b/v_a − 2 + (μ_a − μ_b)² (1/v_a + 1/v_b)].
    """
    d = logvar_a - logvar_b
    # v_a/v_b + v_b/v_a − 2 = 2 (cosh d − 1) = 4 sinh²(d/2): exact zero at d = 0, no cancellation.
    ratio = 4 * torch.sinh(d / 2).pow(2)
    precision = torch.exp(-logvar_a) + torch.exp(-logvar_b)
    return 0.5 * (ratio + (mean_a - mean_b).pow(2) * precision).sum(-1)


def pairwise_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """M×K matrix of log N(z_i; mean_j, diag(exp(logvar_j))) for z M×d and mean, logvar K×d.

    Equal to ``log_density(z[:, None], mean[None], logvar[None])``, computed with two matrix
    products instead of an M×K×d intermediate.
    """
    precision = torch.exp(-logvar)
    quadratic = z.pow(2) @ precision.T - 2 * z @ (mean * precision).T + (mean.pow(2) * precision).sum(-1)
    return -0.5 * (quadratic + logvar.sum(-1) + z.shape[-1] * LOG_2PI)
