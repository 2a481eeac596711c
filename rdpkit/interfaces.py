"""The four kinds of thing rdpkit registers (CONTRIBUTING.md, section 3, walks plugin authors through them).

Plugin authors subclass one of these and implement the underscored method; the public
method around it validates the input first, so every implementation shares one set of
checks and one set of error messages. Images are float tensors N×C×H×W in [0, 1].

=========== ============================== ==========================================
kind        users call                     implementers write
=========== ============================== ==========================================
Distortion  ``d(x, x_hat) -> Tensor[N]``   ``_distance(x, x_hat)``
Divergence  ``d.estimate(p, q)``           ``_estimate(p, q) -> Estimate``
Codec       ``c.encode(x)``, ``c.decode``  ``_encode(x) -> Bitstream``, ``_decode``
Critic      ``c.score(x) -> Tensor[N]``    ``_score(x)``
=========== ============================== ==========================================
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from .bitstream import Bitstream
from .errors import CorruptBitstream, InputError, RdpkitError
from .spec import Info, component_name
from .validation import check_images, check_pair, check_samples, check_seed


def _module_device(module: nn.Module) -> torch.device | None:
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return None


def _check_on_device(module: nn.Module, x: torch.Tensor, what: str) -> None:
    dev = _module_device(module)
    if dev is not None and dev != x.device:
        raise InputError(f"the {what} lives on {dev} but the images are on {x.device}; move one of them, e.g. {what}.to('{x.device}').")


class Distortion(nn.Module, ABC):
    """Full-reference distortion Δ(x, x̂): one value per image, lower is better, Δ(x, x) = 0, Δ ≥ 0.

    Similarity indices are turned into distortions (1 − SSIM). Whether gradients flow is
    stated in the registry metadata (`info.differentiable`).
    """

    info: Info | None = None
    #: Smallest height and width accepted (MS-SSIM needs 161 for its five scales).
    min_size: ClassVar[int] = 0

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        check_pair(x, x_hat, min_size=self.min_size)
        _check_on_device(self, x, "distortion")
        return self._distance(x, x_hat)

    @abstractmethod
    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """Validated inputs in, a tensor of shape [N] out, same dtype and device."""


class Critic(nn.Module, ABC):
    """No-reference critic: does x look real? One score per image, lower is better."""

    info: Info | None = None
    min_size: ClassVar[int] = 0
    #: Whether the critic must be trained on a real and a fake set before its scores mean
    #: anything (a WGAN-GP critic, a classifier); such a critic is no ready-made NR metric.
    trainable: ClassVar[bool] = False

    def score(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, min_size=self.min_size)
        _check_on_device(self, x, "critic")
        return self._score(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(x)

    @abstractmethod
    def _score(self, x: torch.Tensor) -> torch.Tensor:
        """Validated images in, a tensor of shape [N] out."""


@dataclass(frozen=True)
class Estimate:
    """A sample-based estimate of a divergence, with its uncertainty.

    `quantity` says exactly what `value` is (``"W1"``, ``"W2^2"``, ``"TV"``, ``"KL (nats)"``...).
    `ci` is a (low, high) confidence interval when one was computed; `details["ci_method"]`
    says how, and `Divergence.estimate` keeps it inside the quantity's range.
    """

    value: float
    stderr: float
    n: int
    quantity: str = ""
    ci: tuple[float, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "stderr": self.stderr, "n": self.n, "quantity": self.quantity,
                "ci": list(self.ci) if self.ci else None, "details": self.details}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        """The estimate `as_dict` wrote (other keys are ignored)."""
        ci = d.get("ci")
        return cls(d["value"], d["stderr"], d["n"], d.get("quantity", ""), (ci[0], ci[1]) if ci else None, d.get("details") or {})


def _in_range(low: float, high: float, value: float, bounds: tuple[float, float] | None, *, keep_width: bool = False) -> tuple[float, float]:
    """(low, high) clipped to `bounds` (None: not clipped) and widened to hold `value`.

    With `keep_width`, an interval that reaches beyond a bound is moved inside, its width kept
    where the range allows, instead of cut: (−0.3, −0.1) in [0, ∞) becomes (0, 0.2), not (0, 0).
    The moved interval holds the cut one, so its coverage is never lower; and it has zero width
    only where (low, high) has. `value` must lie within `bounds`.
    """
    if bounds is None:
        return min(low, value), max(high, value)
    lb, ub = bounds
    width = high - low
    if keep_width and low < lb:
        low, high = lb, max(high, lb + width)
    elif keep_width and high > ub:
        low, high = min(low, ub - width), ub
    return min(max(low, lb), value), max(min(high, ub), value)


def _spread(values: np.ndarray) -> float:
    """The standard deviation of finite `values`, computed at unit scale so that values near 1e200 do not overflow."""
    top = float(np.abs(values).max())
    return top * float(np.std(values / top, ddof=1)) if top > 0 else 0.0


class Divergence(ABC):
    """Perception index d(p, q) estimated from two sample sets (N×D, or image batches)."""

    info: Info | None = None
    #: What `value` is; every implementation states it (W1, W2, W2^2, TV, KL (nats), ...).
    quantity: ClassVar[str] = ""
    #: The range of the quantity (TV: (0, 1); W1, KL, MMD²: (0, inf)). Intervals are kept inside
    #: it when `clip_intervals`; the estimate itself is never clipped.
    bounds: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    #: Whether intervals are clipped to `bounds`. False for unbiased estimators (MMD², KID): they
    #: are centred on the true value, so at p = q they are negative half the time, and an interval
    #: clipped at 0 would exclude them ((0, 0) around −0.128). Any estimate outside `bounds` also
    #: leaves its interval unclipped, since the interval must hold it.
    clip_intervals: ClassVar[bool] = True
    #: Whether sample i of the two sets form a pair (a patch and its own decoding): the sets must
    #: then be of one size, and the bootstrap resamples pairs, not each set on its own.
    paired: bool = False
    #: Whether +inf is a correct value (the plug-in KL when q lacks a symbol p has); any other
    #: value that is not a finite number is refused as an error.
    can_be_infinite: ClassVar[bool] = False
    #: Bootstrap resamples for the standard error of estimators with no closed form for it
    #: (their `_estimate` returns stderr = nan); 0 leaves it nan. Instances may override it.
    stderr_resamples: int = 0
    #: The only number of features per sample the estimator accepts (1 for the 1-D ones), or None.
    dimension: ClassVar[int | None] = None

    def estimate(
        self,
        samples_p: torch.Tensor,
        samples_q: torch.Tensor,
        *,
        bootstrap: int = 0,
        confidence: float = 0.95,
        seed: int | None = 0,
    ) -> Estimate:
        """Estimate d(p, q) with its standard error and a `confidence` interval.

        The interval is the basic bootstrap one when `bootstrap` > 0 (or when the estimator has
        no closed-form standard error, with `stderr_resamples` resamples), else the estimator's
        own, else the normal one, value ± z·stderr; `details["ci_method"]` says which. Every
        interval holds the estimate. It is clipped to the quantity's range `bounds`, so it never
        claims a TV above 1 or a negative W1, unless the estimator may leave that range
        (`clip_intervals` is False: MMD², KID) or the estimate lies outside it (kl-knn on
        near-identical sets); `ci_method` then says "unclipped".

        Basic, not percentile: most estimators here are biased plug-ins, and the bootstrap
        distribution of θ* sits about as far from θ̂ as θ̂ sits from θ, on the same side. The
        percentile interval adds that bias a second time (on two identical sets w1-1d is 0 and
        its percentile interval (0.08, 0.24) excludes it); the basic interval
        (2θ̂ − θ*₍₁₋α/₂₎, 2θ̂ − θ*₍α/₂₎) subtracts it (Davison & Hinkley, Bootstrap Methods and
        their Application, 1997, §5.2.1, eq. 5.6). Measured on 100 pairs of samples (n = 200,
        100 resamples, 95%): at p = q the percentile interval covered the true value 0 in 0% of
        the pairs for w1-1d, frechet (d = 4) and tv-discrete, the basic one in 81%, 100% and 89%;
        at p ≠ q they covered 91% / 75% (w1-1d), 82% / 95% (frechet), 95% / 97% (tv-discrete).
        The basic interval of an upward-biased plug-in can lie wholly below 0 (frechet on one set
        passed twice: θ̂ = 0 and every resample positive); cut at 0 it would be (0, 0), a certainty
        the resamples do not show. A basic interval that reaches beyond the range is therefore moved
        inside it with its width (`_in_range`), and `ci_method` says so.
        The bootstrap quantiles are order statistics (the lower one rounded down, the upper
        one up), which keeps them defined when a resample's estimate is infinite.

        A NaN estimate, or an infinite one from an estimator that cannot be infinite, is refused
        with one sentence: it means the arithmetic overflowed, not that the divergence is infinite.
        """
        p = check_samples(samples_p, "samples_p").detach()
        q = check_samples(samples_q, "samples_q").detach()
        if p.is_complex() or q.is_complex():
            raise InputError("the samples are complex numbers; pass real samples (e.g. stack the real and imaginary parts as features).")
        if p.device != q.device:
            raise InputError(f"samples_p is on {p.device} but samples_q on {q.device}; move both sets to one device.")
        if p.shape[1] != q.shape[1]:
            raise InputError(f"samples_p has {p.shape[1]} features per sample but samples_q has {q.shape[1]}; both sets must have the same dimension.")
        if self.dimension is not None and p.shape[1] != self.dimension:
            raise InputError(f"this estimator takes {self.dimension} feature(s) per sample, got {p.shape[1]}; " + ("use wasserstein-exact or wasserstein-sliced for vectors." if self.dimension == 1 else "reduce the features first."))
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
            raise InputError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}.")
        if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap == 1 or bootstrap < 0:
            raise InputError(f"bootstrap must be 0 (off) or at least 2 resamples, got {bootstrap!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InputError(f"seed must be None or a non-negative integer, got {seed!r}.")
        if self.paired and p.shape[0] != q.shape[0]:
            raise InputError(f"paired=true compares sample i of one set with sample i of the other, but samples_p has {p.shape[0]} samples and "
                             f"samples_q {q.shape[0]}; pass one sample per pair in each set, or paired=false for independent sets.")
        name = component_name(self)

        def acceptable(value: float) -> bool:
            return math.isfinite(value) or (self.can_be_infinite and value == math.inf)

        def overflow(what: str) -> InputError:
            largest = max(float(p.double().abs().max()), float(q.double().abs().max()))
            return InputError(f"{name} gave {what}, which float64 cannot hold or compute at the scale of these samples (largest |x| = {largest:.3g}); divide the samples by a constant, such as their standard deviation, and scale the result back.")

        quantity = self.quantity or "its quantity"
        est = self._estimate(p, q)
        if not acceptable(est.value):
            raise overflow(f"{est.value} as {quantity}")
        if math.isinf(est.stderr) and math.isfinite(est.value):
            raise overflow(f"an infinite standard error for {quantity}")
        if math.isinf(est.value):
            return replace(est, ci=None, details=dict(est.details, ci_method="none: the estimate is infinite", confidence=confidence))
        clip = self.clip_intervals and self.bounds[0] <= est.value <= self.bounds[1]
        bounds = self.bounds if clip else None
        unclipped = "" if clip else f", unclipped (the estimate may lie outside the quantity's range [{self.bounds[0]:g}, {self.bounds[1]:g}])"
        resamples = bootstrap or (self.stderr_resamples if math.isnan(est.stderr) else 0)
        if resamples < 2:
            if est.ci is not None:
                method = est.details.get("ci_method", "the estimator's own")
                ci = _in_range(est.ci[0], est.ci[1], est.value, bounds)
            elif math.isfinite(est.stderr):
                method = "normal"
                z = NormalDist().inv_cdf(0.5 + confidence / 2)
                ci = _in_range(est.value - z * est.stderr, est.value + z * est.stderr, est.value, bounds)
            else:
                return est
            return replace(est, ci=ci, details=dict(est.details, ci_method=method + unclipped, confidence=confidence))
        gen = np.random.default_rng(seed)
        values = []
        for i in range(resamples):
            ip = torch.as_tensor(gen.integers(0, p.shape[0], p.shape[0]), device=p.device)
            iq = ip if self.paired else torch.as_tensor(gen.integers(0, q.shape[0], q.shape[0]), device=q.device)
            try:
                value = self._estimate(p[ip], q[iq]).value
            except RdpkitError as exc:
                raise InputError(f"bootstrap resample {i + 1} of {resamples} could not be estimated ({str(exc).rstrip('.')}); pass more samples, or bootstrap=0.") from None
            if not acceptable(value):
                raise overflow(f"{value} as {quantity} on bootstrap resample {i + 1}")
            values.append(value)
        arr = np.asarray(values, dtype=np.float64)
        alpha = (1 - confidence) / 2
        low, high = np.quantile(arr, alpha, method="lower"), np.quantile(arr, 1 - alpha, method="higher")
        basic = (2 * est.value - float(high), 2 * est.value - float(low))
        ci = _in_range(*basic, est.value, bounds, keep_width=True)
        moved = bounds is not None and (basic[0] < bounds[0] or basic[1] > bounds[1])
        method = "basic bootstrap" + (", moved inside the quantity's range with its width" if moved else "") + unclipped
        stderr = _spread(arr) if bool(np.isfinite(arr).all()) else math.inf
        details = dict(est.details, bootstrap=resamples, confidence=confidence, ci_method=method)
        return replace(est, stderr=stderr, ci=ci, details=details)

    @abstractmethod
    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        """Validated N×D and M×D sample sets in, an Estimate out."""


class Codec(ABC):
    """x → bits → x̂. The rate is measured from the real bytes of the Bitstream."""

    info: Info | None = None
    #: Whether `decode` draws randomness (then `seed` makes it reproducible).
    stochastic: ClassVar[bool] = False
    min_size: ClassVar[int] = 0
    #: The option that weighs perception in the codec's training loss (λ), if it has one: a
    #: sweep's `lambdas` set it, so the sweep needs no codec-specific names.
    perception_weight: ClassVar[str | None] = None
    #: `fit` options that train a learnable codec just enough to code (contract tests, smoke runs).
    quick_fit: ClassVar[dict[str, Any]] = {}
    #: Settings of the codec's rate knob, lowest rate first, over which `rdpkit.testing.check_codec` asks distortion
    #: to fall as the rate rises: one option ({"quality": (10, 50, 90)}), several zipped, or a list of option dicts.
    rate_settings: Any = None

    @property
    def codec_name(self) -> str:
        return self.info.name if self.info else type(self).__name__.lower()

    def encode(self, x: torch.Tensor) -> Bitstream:
        check_images(x, min_size=self.min_size)
        return self._encode(x)

    def decode(self, bits: Bitstream | bytes, seed: int | None = None) -> torch.Tensor:
        """x̂ from a bitstream (or its bytes); `seed` makes a stochastic decoder's noise reproducible (None: fresh noise).

        The seed is checked here for every codec, before any decoding work (`check_seed`).
        """
        seed = check_seed(seed)
        if isinstance(bits, (bytes, bytearray, memoryview)):
            bits = Bitstream.from_bytes(bytes(bits))
        if not isinstance(bits, Bitstream):
            raise InputError(f"decode takes a Bitstream or its bytes, got {type(bits).__name__}; pass what encode() returned.")
        if bits.codec != self.codec_name:
            raise CorruptBitstream(f"this bitstream was written by codec {bits.codec!r}, not {self.codec_name!r}; decode it with rdpkit.codec({bits.codec!r}).")
        return self._decode(bits, seed)

    @property
    def learnable(self) -> bool:
        """Whether this codec is trained with `fit(data, **options)` before it codes."""
        return type(self).fit is not Codec.fit

    @property
    def fitted(self) -> bool:
        """False while a learnable codec still needs `fit` (or loading a trained one)."""
        return True

    def fit(self, data: Any, **options: Any) -> Codec:
        raise RdpkitError(f"codec {self.codec_name!r} is not learnable; it has no fit().")

    @abstractmethod
    def _encode(self, x: torch.Tensor) -> Bitstream: ...

    @abstractmethod
    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        """A bitstream written by this codec (its name checked) and a checked seed in, x̂ out."""


def psnr(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per image (+inf where x̂ = x).

    A report helper, not a distortion: it is infinite at x = x̂ and higher is better.
    """
    check_pair(x, x_hat)
    mse = (x - x_hat).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


class FeatureExtractor(nn.Module, ABC):
    """Images → one feature vector each (N×F): the space in which FID, KID and MMD compare image sets.

    `feature_kind` says what the features are, and reports carry it with every number made
    on them: ``pretrained`` (weights learnt elsewhere, e.g. Inception-v3 on ImageNet),
    ``self-trained`` (a model this project trained), ``random-feature`` (random weights:
    never to be read as FID) or ``hand-crafted`` (no weights at all). An extractor that does
    not say is ``unknown``, in every report, and fails `rdpkit.testing.check_features`.
    """

    info: Info | None = None
    min_size: ClassVar[int] = 0
    feature_kind: ClassVar[str] = "unknown"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, min_size=self.min_size)
        _check_on_device(self, x, "feature extractor")
        return self._features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    @abstractmethod
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """Validated images in, an N×F float tensor out."""


INTERFACES: dict[str, type] = {"distortion": Distortion, "divergence": Divergence, "codec": Codec, "critic": Critic, "features": FeatureExtractor}
__all__ = ["INTERFACES", "Bitstream", "Codec", "Critic", "Distortion", "Divergence", "Estimate", "FeatureExtractor", "psnr"]
