"""Closed forms for Gaussian sources under squared error.

* Shannon's R(D) and D(R) of X ~ N(μ, σ²) (Cover & Thomas, Thm. 10.3.2).
* R(D, P) and D(R, P) with the squared 2-Wasserstein distance W2²(p_X, p_X̂) as perception
  index (Zhang, Qian, Chen & Khisti, "Universal Rate-Distortion-Perception Representations
  for Lossy Compression", NeurIPS 2021, Theorem 1). The optimal X̂ is Gaussian with standard
  deviation σ − √P when the perception constraint binds, which gives
  R = ½ log2(σ² s² / (σ² s² − ((σ² + s² − D) / 2)²)) with s = σ − √P.
* The perception-distortion function of Blau & Michaeli, "The Perception-Distortion Tradeoff",
  CVPR 2018, Example 1: Y = X + N, X ~ N(0, 1), N ~ N(0, σ_N²), linear estimators X̂ = aY,
  squared error and KL(p_X ‖ p_X̂) (nats) as perception index (their Fig. 5).

Rates are in bits. All functions broadcast over their array arguments.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError


def _non_negative(name: str, v: ArrayLike) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if np.isnan(a).any() or (a < 0).any():
        raise InputError(f"{name} must be non-negative, got {a[np.isnan(a) | (a < 0)].ravel()[0]!r}.")
    return a


def _positive(name: str, v: float) -> float:
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{name} must be a positive finite number, got {v!r}.")
    return float(v)


def gaussian_rd(D: ArrayLike, sigma: float = 1.0) -> np.ndarray:
    """Shannon's R(D) = max(½ log2(σ²/D), 0) in bits."""
    D, sigma = _non_negative("D", D), _positive("sigma", sigma)
    with np.errstate(divide="ignore"):
        return np.maximum(0.5 * np.log2(sigma**2 / D), 0.0)


def gaussian_dr(R: ArrayLike, sigma: float = 1.0) -> np.ndarray:
    """Shannon's D(R) = σ² 2^(−2R)."""
    R, sigma = _non_negative("R", R), _positive("sigma", sigma)
    return sigma**2 * np.exp2(-2.0 * R)


def gaussian_rdp_w2(D: ArrayLike, P: ArrayLike, sigma: float = 1.0) -> np.ndarray:
    """R(D, P) in bits under squared error and perception W2²(p_X, p_X̂) ≤ P (Zhang et al. 2021, Thm. 1)."""
    D, P, sigma = _non_negative("D", D), _non_negative("P", P), _positive("sigma", sigma)
    D, P = np.broadcast_arrays(D, P)
    var = sigma**2
    # Shannon's reconstruction has standard deviation √(σ² − D): the constraint is slack when W2 ≥ σ − √|σ² − D|.
    slack = np.sqrt(P) >= sigma - np.sqrt(np.abs(var - D))
    s = np.maximum(sigma - np.sqrt(P), 0.0)
    covariance = (var + s**2 - D) / 2.0  # Cov(X, X̂) that meets the distortion D with equality
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = 0.5 * np.log2(var * s**2 / (var * s**2 - covariance**2))
    return np.where(slack, gaussian_rd(D, sigma), np.maximum(bound, 0.0))


def gaussian_drp_w2(R: ArrayLike, P: ArrayLike, sigma: float = 1.0) -> np.ndarray:
    """D(R, P), the inverse of `gaussian_rdp_w2` in D: the least squared error at rate R and W2² ≤ P."""
    R, P, sigma = _non_negative("R", R), _non_negative("P", P), _positive("sigma", sigma)
    residual = np.exp2(-2.0 * R)
    rho = np.sqrt(1.0 - residual)  # the largest correlation of X and X̂ at rate R
    one_minus_rho = residual / (1.0 + rho)  # 1 − ρ without cancellation at high rates
    s = np.maximum(sigma - np.sqrt(P), 0.0)
    slack = np.sqrt(P) >= sigma * one_minus_rho
    # σ² + s² − 2σsρ, written to stay accurate when ρ → 1
    return np.where(slack, sigma**2 * residual, (sigma - s) ** 2 + 2.0 * sigma * s * one_minus_rho)


def gaussian_dr_perfect_realism(R: ArrayLike, sigma: float = 1.0) -> np.ndarray:
    """D(R, 0) = 2σ²(1 − √(1 − 2^(−2R))): the distortion at rate R when p_X̂ = p_X."""
    return gaussian_drp_w2(R, 0.0, sigma)


def perception_distortion_linear(D: ArrayLike, noise_std: float) -> np.ndarray:
    """P(D) of CVPR 2018 Example 1: min KL(p_X ‖ p_X̂) in nats over X̂ = aY with E[(X − X̂)²] ≤ D.

    Below the MMSE σ_N²/(1 + σ_N²) no linear estimator reaches D, and P(D) = inf; from
    2 − 2/√(1 + σ_N²) on, a = 1/√(1 + σ_N²) gives p_X̂ = p_X and P(D) = 0.
    """
    D, noise_std = _non_negative("D", D), _positive("noise_std", noise_std)
    energy = 1.0 + noise_std**2  # E[Y²]
    # MSE(a) = 1 − 2a + a²(1 + σ²) ≤ D holds for a up to this root; KL falls as a grows towards 1/√(1 + σ²).
    discriminant = 1.0 - energy * (1.0 - D)
    a = np.minimum((1.0 + np.sqrt(np.maximum(discriminant, 0.0))) / energy, 1.0 / np.sqrt(energy))
    variance = a**2 * energy  # Var(X̂)
    kl = 0.5 * (np.log(variance) + 1.0 / variance - 1.0)
    return np.where(discriminant < 0, np.inf, np.maximum(kl, 0.0))


def mmse_linear(noise_std: float) -> float:
    """The least squared error of X̂ = aY in Example 1: σ_N²/(1 + σ_N²), at a = 1/(1 + σ_N²)."""
    noise_std = _positive("noise_std", noise_std)
    return noise_std**2 / (1.0 + noise_std**2)
