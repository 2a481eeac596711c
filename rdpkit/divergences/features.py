"""Divergences between feature distributions: the Fréchet distance (FID-style) and MMD / KID.

The features come from an extractor: None for the samples as they are, a registered feature
extractor (``rdpkit list features``) or critic written as a component, options included
(``frechet,extractor="nss,patch=32"``), or any object with a ``features(x) -> N×F`` method.
The registry that creates the divergence creates its extractor. An extractor may say
what its features are in ``feature_kind``; a critic whose weights are random (an unfitted
WGAN-GP critic, a backbone without its pretrained weights) says ``"random-feature"``, and the
estimate's `quantity` carries that label, so random-feature numbers are never mistaken for
FID. Features are computed once; bootstrap resamples the features.

Each estimator works on the features divided by a power of two (`checks.power_of_two_scale`,
exact in floating point) and scales its result back, so features of any magnitude give the
value they give at magnitude 1, scaled as the quantity scales, wherever float64 can hold it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from ..errors import InputError, UnknownNameError
from ..interfaces import Divergence, Estimate
from ..options import Component
from ..registry import active_registry, component_name
from ..validation import check_samples
from . import checks

#: Samples used for the median-distance bandwidth heuristic.
MEDIAN_SAMPLES = 1000


def _extractor(extractor: Any, options: Mapping[str, Any] | None) -> tuple[Any, str]:
    if options is not None and not isinstance(options, Mapping):
        raise InputError(f"extractor_options must be a table of the extractor's options, e.g. {{hidden = 16}}, got {options!r}.")
    if extractor is None:
        if options:
            raise InputError("extractor_options were given without an extractor; name one with its options, e.g. extractor=\"nss,patch=32\".")
        return None, "raw"
    if isinstance(extractor, str):
        extractor = _create(extractor, options or {})
    elif options:
        raise InputError(f"extractor_options were given with a {type(extractor).__name__} object; create it with its options, or name it, e.g. extractor=\"nss,patch=32\".")
    if not callable(getattr(extractor, "features", None)):
        raise InputError(f"the extractor {type(extractor).__name__} has no features(x) method; use a registered feature extractor (rdpkit list features), a critic that has one (wgan-gp, classifier, niqe), or extractor=None for raw samples.")
    return extractor, f"{getattr(extractor, 'feature_kind', 'features')}:{component_name(extractor)}"


def _create(text: str, legacy_options: Mapping[str, Any]) -> Any:
    """The extractor a component string names (``"nss,patch=32"``), built by the registry creating this divergence.

    `legacy_options` are those of ``extractor_options``, the spelling of earlier versions,
    still read because stored results and presets hold it.
    """
    c = Component.parse(text, what="extractor")
    twice = sorted(set(c.options) & set(legacy_options))
    if twice:
        raise InputError(f"extractor option {twice[0]!r} is set both in extractor={text!r} and in extractor_options; write it once, in extractor.")
    c = c.with_options(**legacy_options)
    registry = active_registry()
    try:  # a registered feature extractor first, else a critic with features (wgan-gp, classifier, niqe)
        registry.info("features", c.name)
        kind = "features"
    except UnknownNameError:
        kind = "critic"
    return c.create(kind, registry)


class FeatureDivergence(Divergence):
    """Base of divergences computed on features; see the module docstring."""

    bounds = (0.0, math.inf)

    def __init__(self, extractor: Any = None, extractor_options: dict[str, Any] | None = None, batch_size: int = 256) -> None:
        self.batch_size = checks.integer("batch_size", batch_size, "a positive number of samples per extractor call", lambda v: v >= 1)
        self.extractor, self.features_label = _extractor(extractor, extractor_options)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.extractor is None:
            return x
        with torch.no_grad():
            return torch.cat([self.extractor.features(x[s : s + self.batch_size]) for s in range(0, x.shape[0], self.batch_size)])

    def estimate(self, samples_p: torch.Tensor, samples_q: torch.Tensor, **options: Any) -> Estimate:
        # The extractor gets the samples as given (images keep their shape), once they are known to be samples.
        check_samples(samples_p, "samples_p")
        check_samples(samples_q, "samples_q")
        est = super().estimate(self.features(samples_p), self.features(samples_q), **options)
        label = f"{est.quantity} on {self.features_label} features"
        return replace(est, quantity=label, details=dict(est.details, features=self.features_label))


def _sqrt_psd(a: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½: W2² between two Gaussians (Bures)."""
    s1 = _sqrt_psd(cov1)
    cross = torch.linalg.eigvalsh(s1 @ cov2 @ s1).clamp(min=0).sqrt().sum()
    # Non-negative in exact arithmetic; the sum of traces minus twice the cross term can round to −4e-15 on identical sets.
    return max(float((mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * cross), 0.0)


class Frechet(FeatureDivergence):
    """W2² between Gaussians fitted to the two feature sets (the Fréchet distance; FID on Inception features).

    Bias: upward and large at small n. On two samples of one Gaussian law, with d features
    and n samples per set, E ≈ (d² + 5d)/(2n) (tested), so values are only comparable at
    equal n (reported as `n`); `kid` is the unbiased alternative. Standard error and interval
    by bootstrap (the percentile interval inherits the bias).
    """

    quantity = "W2^2 (Gaussian fits)"
    stderr_resamples = 10

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        t = checks.power_of_two_scale(p.double(), q.double())
        p, q = p.double() / t, q.double() / t
        value = frechet_distance(p.mean(0), torch.cov(p.T).reshape(p.shape[1], p.shape[1]), q.mean(0), torch.cov(q.T).reshape(q.shape[1], q.shape[1]))
        # W2² scales by t² (a product: t**2 raises OverflowError where the product is merely inf).
        return Estimate(value * t * t, float("nan"), min(p.shape[0], q.shape[0]), quantity=self.quantity, details={"dim": p.shape[1]})


def _unbiased_mmd2(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> tuple[float, float]:
    """Unbiased MMD² of two independent samples (U-statistic; Gretton et al., JMLR 13, 2012, Lemma 6) and its first-order standard error.

    MMD²ᵤ = Σ_{i≠j} k(xᵢ,xⱼ)/(n(n−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ)/(nm): every cross pair
    is counted, which is right only when no xᵢ is tied to a yⱼ.
    """
    n, m = kxx.shape[0], kyy.shape[0]
    rx = (kxx.sum(1) - kxx.diagonal()) / (n - 1)
    ry = (kyy.sum(1) - kyy.diagonal()) / (m - 1)
    value = rx.mean() + ry.mean() - 2 * kxy.mean()
    # Influence of each sample: how the statistic moves when that sample moves.
    ax = 2 * (rx - kxy.mean(1))
    ay = 2 * (ry - kxy.mean(0))
    return float(value), math.sqrt(float(ax.var() / n + ay.var() / m))


def _paired_mmd2(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> tuple[float, float]:
    """Unbiased MMD² of n pairs zᵢ = (xᵢ, yᵢ) and its first-order standard error.

    MMD²ᵤ = Σ_{i≠j} h(zᵢ, zⱼ)/(n(n−1)) with h(zᵢ, zⱼ) = k(xᵢ,xⱼ) + k(yᵢ,yⱼ) − k(xᵢ,yⱼ) − k(xⱼ,yᵢ)
    (Gretton et al., JMLR 13, 2012, eq. 3): a U-statistic over the pairs, in which the matched
    terms k(xᵢ, yᵢ) never enter. It is unbiased when the pairs are independent of one another,
    however strongly xᵢ depends on yᵢ (a patch and its decoding); the two-sample form
    (`_unbiased_mmd2`) subtracts the matched terms too, so its expectation falls below MMD² by
    2(E k(x, x̂) − E k(x, y))/n, the similarity of a patch to its own decoding. Standard error: the
    U-statistic's first-order one (Hoeffding 1948), 2·sd(h̄ᵢ)/√n with h̄ᵢ the mean of h(zᵢ, ·).
    """
    n = kxx.shape[0]
    # Grouped so that a pair of equal samples cancels exactly: a blocked matmul can give a·bᵀ[i, j] and [j, i] one ulp apart,
    # so kyy[i, j] is paired with kxy[j, i] from the same transposed product (kyy is symmetric in exact arithmetic).
    h = (kxx - kxy) + (kyy - kxy).T
    rows = (h.sum(1) - h.diagonal()) / (n - 1)
    return float(rows.mean()), 2 * float(rows.std()) / math.sqrt(n)


class MMD(FeatureDivergence):
    """Unbiased MMD² with a Gaussian kernel exp(−‖x − y‖²/(2σ²)).

    σ is `bandwidth`, or the median pairwise distance of the pooled samples (the median
    heuristic). Unbiased: E = MMD² exactly, so it is centred on 0 at p = q and can be
    negative; its intervals are therefore not clipped at 0 (`clip_intervals`). The standard
    error is the first-order (influence-function) one; at p = q the statistic is degenerate
    and that understates it: use bootstrap there.

    `paired`: sample i of the two sets are a pair (a patch and its decoding), and the
    paired U-statistic (`_paired_mmd2`) leaves out the matched terms k(xᵢ, yᵢ), which would
    otherwise pull the value down by about twice their excess similarity over n; the
    bootstrap then resamples pairs. The quantity says which form the value is.
    """

    quantity = "MMD^2 (Gaussian kernel)"
    clip_intervals = False

    def __init__(self, extractor: Any = None, extractor_options: dict[str, Any] | None = None, batch_size: int = 256,
                 bandwidth: float | None = None, paired: bool = False) -> None:
        super().__init__(extractor, extractor_options, batch_size)
        if bandwidth is not None:
            bandwidth = checks.number("bandwidth", bandwidth, "a positive number (σ of the kernel, in the units of the features), or None for the median heuristic", lambda v: v > 0)
        self.bandwidth = bandwidth
        self.paired = checks.flag("paired", paired)

    def _kernel(self, a: torch.Tensor, b: torch.Tensor, sigma: float) -> torch.Tensor:
        from .sinkhorn import squared_distances

        return torch.exp(squared_distances(a, b) / (-2 * sigma**2))

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        from .sinkhorn import squared_distances

        # The kernel depends on distances over σ only: rescaling both changes nothing but the range of the arithmetic.
        t = checks.power_of_two_scale(p.double(), q.double())
        p, q = p.double() / t, q.double() / t
        if self.bandwidth is None:
            pooled = torch.cat([p[:MEDIAN_SAMPLES], q[:MEDIAN_SAMPLES]])
            d2 = squared_distances(pooled, pooled)
            off = d2[~torch.eye(len(pooled), dtype=torch.bool, device=d2.device)]
            sigma = max(float(off.median().sqrt()), 1e-12)
        else:
            sigma = self.bandwidth / t
        form = _paired_mmd2 if self.paired else _unbiased_mmd2
        value, stderr = form(self._kernel(p, p, sigma), self._kernel(q, q, sigma), self._kernel(p, q, sigma))
        quantity = "MMD^2 (Gaussian kernel, paired u-statistic)" if self.paired else "MMD^2 (Gaussian kernel, two-sample u-statistic)"
        return Estimate(value, stderr, min(p.shape[0], q.shape[0]), quantity=quantity, details={"bandwidth": sigma * t, "paired": self.paired})


class KID(FeatureDivergence):
    """Kernel Inception Distance: unbiased MMD² with the cubic kernel (xᵀy/d + 1)³ (Bińkowski et al. 2018).

    Unbiased (centred on 0 at p = q, can be negative, so its intervals are not clipped at 0),
    unlike the Fréchet distance, so values at different n are comparable. Standard error:
    first-order, as for `mmd`. With `subsets` > 0 the value is the mean over that many random
    subsets of `subset_size` samples (cut to the smaller set's size), the protocol of
    torch-fidelity and torchmetrics.

    Two forms, named in the estimate's quantity:

    - ``"KID (torch-fidelity's form)"`` (the default): the two-sample U-statistic of
      Bińkowski et al., as torch-fidelity and torchmetrics compute it, right for independent
      sets and the form published KIDs use;
    - ``"KID (paired u-statistic)"`` with `paired`: sample i of the two sets are a pair (a
      patch and its decoding), and the matched terms k(xᵢ, yᵢ) are left out (`_paired_mmd2`).
      The two-sample form counts them, and a patch resembles its own decoding far more than
      another patch, so on originals against decodings it reads negative at every quality
      (−31 on 12 patches of pim features at every JPEG quality; see `_paired_mmd2`). Subsets,
      when asked for, take the same pairs from both sets, and the bootstrap resamples pairs.

    Computed without its constant term, which MMD² cancels: with u = xᵀy/d,
    (u + 1)³ − 1 = u(u² + 3u + 3), so features near 1e-6 do not lose their value to the
    rounding of 1 + 3u. Features above 1 are divided by a power of two t first, with
    u' = u/t² and c = 1/t²: t⁶((u' + c)³ − c³) = t⁶·u'(u'² + 3cu' + 3c²), each term at most 7.
    """

    quantity = "KID (MMD^2, cubic kernel)"
    clip_intervals = False

    def __init__(self, extractor: Any = None, extractor_options: dict[str, Any] | None = None, batch_size: int = 256,
                 subsets: int = 0, subset_size: int = 1000, paired: bool = False) -> None:
        super().__init__(extractor, extractor_options, batch_size)
        self.subsets = checks.integer("subsets", subsets, "0 (every sample at once) or a number of random subsets", lambda v: v >= 0)
        self.subset_size = checks.integer("subset_size", subset_size, "a number of samples per subset, at least 2", lambda v: v >= 2)
        self.paired = checks.flag("paired", paired)

    @property
    def form(self) -> str:
        """The quantity's name for the form computed: ``"KID (paired u-statistic)"`` or ``"KID (torch-fidelity's form)"``."""
        return "KID (paired u-statistic)" if self.paired else "KID (torch-fidelity's form)"

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        """All samples at once, or, with `subsets`, the mean over random subsets as torch-fidelity and
        torchmetrics compute KID, the subset size cut to the smaller set so that few samples still give a value."""
        if not self.subsets:
            return self._full(p, q)
        size = min(self.subset_size, p.shape[0], q.shape[0])
        g = torch.Generator().manual_seed(0)
        values = []
        for _ in range(self.subsets):
            ip = torch.randperm(p.shape[0], generator=g)[:size]
            iq = ip if self.paired else torch.randperm(q.shape[0], generator=g)[:size]
            values.append(self._full(p[ip.to(p.device)], q[iq.to(q.device)]).value)
        full = self._full(p, q)
        spread = float(torch.tensor(values, dtype=torch.float64).std()) if self.subsets > 1 else float("nan")
        details = {**full.details, "subsets": self.subsets, "subset_size": size, "subset_std": spread, "all_samples": full.value}
        # The mean over subsets is the field's number; the first-order error of the all-sample statistic is the honest stderr.
        return Estimate(float(sum(values) / len(values)), full.stderr, full.n, quantity=full.quantity, details=details)

    def _full(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        # The kernel is not homogeneous, so only features above 1 are scaled, where cubes overflow.
        t = max(checks.power_of_two_scale(p.double(), q.double()), 1.0)
        p, q = p.double() / t, q.double() / t
        d, c = p.shape[1], 1 / (t * t)

        def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            u = a @ b.T / d
            return u * (u * u + 3 * c * u + 3 * c * c)

        value, stderr = (_paired_mmd2 if self.paired else _unbiased_mmd2)(k(p, p), k(q, q), k(p, q))
        # Multiplied in turn: t**6 raises OverflowError, and a precomputed inf t⁶ would turn a value of 0 into NaN.
        return Estimate(value * t * t * t * t * t * t, stderr * t * t * t * t * t * t, min(p.shape[0], q.shape[0]), quantity=self.form,
                        details={"dim": d, "paired": self.paired})
