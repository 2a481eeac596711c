"""Measuring decoded images against their originals, in the manner of torchmetrics: declare what to
measure (`Measures`), build a `Meter`, `update` it with batches of (original, decoded) images, and
`compute` the per-image table and the set quantities (`Measured`).

Every harness measures through this one place: a sweep trial (a codec's decoded test images),
the P-D plane (folders of outputs) and `rdpkit evaluate` (one image at a time, each at its own
size). What is measured:

- per image: PSNR over RGB (capped at 100 dB, as CompressAI does) when asked; each distortion
  Δ(x, x̂); each no-reference critic's score of x̂;
- per set: each divergence between the real images (the originals, or a reference set) and the
  decoded ones — on whole images, or on their `patch`×`patch` patches (rdpkit.patches: a grid
  and one shifted by half a patch, 8-bit) so that a few large photographs give hundreds of
  samples a side; and FID and KID on the features of 256×256 patches (`features`), with n, the
  number of patch pairs, in each one's quantity (`PatchScores`).

Each column declares which way is better and its range (`Column`), so reports and tables need
no list of names: a distortion that is 1 − an index (MS-SSIM) is reported as the index itself
under the name codec papers' result files use when `similarities` is set (the spec's
`similarity`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..interfaces import Estimate, psnr
from ..options import Component
from ..patches import patches
from ..registry import Registry
from .values import PER_IMAGE, Column, Measurement, Perception

#: KID in torch-fidelity's form on patches (`PatchScores.kid_field`): random subsets of at most this many patches.
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
FID_BIAS = ("the Fréchet distance is biased upward by roughly (d² + 5d)/(2n) for n patches of d features, "
            "so compare FIDs only at equal n; KID (paired u-statistic) is unbiased")
#: Fewer patch pairs than this mark FID and KID unreliable (`details["unreliable"]`), and reports
#: do not draw them. 50 because the intervals rest on a standard error estimated from the same n
#: patches, and that estimate is itself uncertain by about 1/√(2(n − 1)) of its value (the
#: relative standard error of a sample standard deviation, normal data): 10 % at n = 51, 21 % at
#: the 12 patches of 256² the three photographs of builtin:held-out give. FID also needs more
#: patches than features, or its covariances are singular.
MIN_PATCHES = 50
#: PSNR of an exact decoding is infinite; codec papers' tables cap it.
PSNR_CAP = 100.0
#: Patches per call of a feature extractor.
FEATURE_BATCH = 32


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


@dataclass(frozen=True)
class PatchScores:
    """FID and KID between original and decoded patches, on one feature space.

    Patch i of the originals and patch i of the decodings are one place of one image, so the
    sets are paired: `kid` is the paired U-statistic (``kid,paired=true``), which leaves out
    each patch's similarity to its own decoding; `kid_field` is KID as torch-fidelity and
    torchmetrics compute it (two independent sets, mean over random subsets), kept for
    comparison with published numbers, and on decodings of the same patches biased downward
    by about twice that similarity over n (on the 12 patches of builtin:held-out, pim features,
    JPEG at quality 10, 50, 90: −31.0, −31.2, −31.6, where the paired form reads 0.35, 0.25, 0.10). Each quantity states its form and n; below `MIN_PATCHES` pairs each estimate's
    ``details["unreliable"]`` says why it should not be drawn. Results stored before
    `kid_field` existed hold the field's form in `kid` and None in `kid_field`.
    """

    features: str  # the extractor as asked for
    feature_kind: str  # pretrained | self-trained | random-feature | hand-crafted
    patches: int
    fid: Estimate
    kid: Estimate
    kid_field: Estimate | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"features": self.features, "feature_kind": self.feature_kind, "patches": self.patches,
                "fid": self.fid.as_dict(), "kid": self.kid.as_dict(), "kid_field": self.kid_field.as_dict() if self.kid_field else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PatchScores:
        field_form = d.get("kid_field")
        return cls(d["features"], d["feature_kind"], d["patches"], Estimate.from_dict(d["fid"]), Estimate.from_dict(d["kid"]),
                   Estimate.from_dict(field_form) if field_form else None)


@dataclass(frozen=True)
class Measures:
    """What to measure on decoded images (picklable, so trials carry it); see the module docstring."""

    distortions: tuple[Component, ...] = ()
    critics: tuple[Component, ...] = ()
    divergences: tuple[Component, ...] = ()
    patch: int = 0  # divergences on patch×patch patches; 0: on whole images
    bootstrap: int = 0  # bootstrap resamples for the divergences' intervals
    psnr: bool = False
    similarities: bool = False  # a distortion 1 − index is reported as the index (codec papers' columns)
    features: Component | None = None  # FID and KID on this extractor's features of `features_patch` patches
    features_patch: int = 256

    def meter(self, registry: Registry, device: str | torch.device = "cpu", *, seed: int = 0) -> Meter:
        return Meter(self, registry, torch.device(device), seed)

    def check(self, registry: Registry) -> Meter:
        """Refuse unknown names, bad options, missing weights and critics that need training, before anything is coded;
        the meter it built can then check the images' size (`Meter.check_side`)."""
        meter = self.meter(registry)
        for c in self.divergences:
            c.create("divergence", registry)
        if self.divergences and (isinstance(self.patch, bool) or not isinstance(self.patch, int) or self.patch < 0):
            raise InputError(f"the divergences' patch size must be a whole number of pixels (0: whole images), got {self.patch!r}.")
        if isinstance(self.bootstrap, bool) or not isinstance(self.bootstrap, int) or self.bootstrap < 0 or self.bootstrap == 1:
            raise InputError(f"bootstrap must be 0 (no interval) or at least 2 resamples, got {self.bootstrap!r}.")
        return meter


def _critic(registry: Registry, c: Component) -> Any:
    """A no-reference critic, refused when it must be trained on real and decoded images before its scores mean anything."""
    critic = registry.create("critic", c.name, **c.options)
    if critic.trainable:
        raise InputError(f"the critic {c.name!r} must be trained on real and decoded images before it scores, so it is no no-reference "
                         "measure; the divergences wasserstein-critic and tv-classifier train one against each setting's outputs.")
    return critic


def _divergence(registry: Registry, c: Component, seed: int) -> Any:
    """A fresh divergence estimator, seeded with `seed` unless its options fix one."""
    seed_everything(seed)
    try:
        takes_seed = "seed" in inspect.signature(registry.factory(registry.info("divergence", c.name))).parameters
    except (TypeError, ValueError):  # a factory without an inspectable signature
        takes_seed = False
    options = {**c.options, "seed": seed} if takes_seed and "seed" not in c.options else dict(c.options)
    return registry.create("divergence", c.name, **options)


def _uint8(x: torch.Tensor) -> torch.Tensor:
    """Images kept for a set quantity, in a quarter of the memory (patches are quantised to 8 bits anyway)."""
    return torch.round(x.detach().clamp(0, 1) * 255).to(torch.uint8).cpu()


class Meter:
    """Accumulates per-image values and the samples of set quantities; `compute` gives `Measured`."""

    def __init__(self, measures: Measures, registry: Registry, device: torch.device, seed: int = 0) -> None:
        self.measures, self.registry, self.device, self.seed = measures, registry, device, seed
        self.components: dict[str, dict[str, Any]] = {}
        self.columns: dict[str, Column] = {}
        if measures.psnr:
            self.columns["psnr-rgb"] = Column("psnr-rgb", "psnr", higher_is_better=True, bounds=(0.0, PSNR_CAP))
        self._distortions: list[tuple[str, Any, bool]] = []  # column, metric, reported as its similarity index
        for c in measures.distortions:
            metric = registry.create("distortion", c.name, **c.options).to(device)
            similarity = metric.info.similarity if measures.similarities and metric.info is not None else ""
            key = similarity or str(c)
            self.columns[key] = Column(key, "distortion", str(c), bool(similarity), (0.0, 1.0) if similarity else (0.0, math.inf))
            self._distortions.append((key, metric, bool(similarity)))
            self.components[f"distortion:{c}"] = metric.info.as_dict()
        self._critics: list[tuple[str, Any]] = []
        for c in measures.critics:
            critic = _critic(registry, c).to(device)
            self.columns[str(c)] = Column(str(c), "critic", str(c), bounds=(-math.inf, math.inf))
            self._critics.append((str(c), critic))
            self.components[f"critic:{c}"] = critic.info.as_dict()
        self._extractor = None
        if measures.features is not None:
            self._extractor = registry.create("features", measures.features.name, **measures.features.options).to(device)
            self.components[f"features:{measures.features}"] = self._extractor.info.as_dict()
        self.images: list[str] = []
        self._values: dict[str, list[float]] = {k: [] for k in self.columns}
        self._real: list[torch.Tensor] = []
        self._decoded: list[torch.Tensor] = []
        self._features: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        self._dtype = torch.get_default_dtype()

    def check_side(self, side: int, *, these: str | None = None, fix: str = "use larger images, or leave it out") -> None:
        """Refuse, before anything is coded, a distortion or critic that cannot take images of `side` pixels (the smallest
        side); the sentence says `these` (what the images are) and `fix`."""
        these = these or f"the smallest here is {side} pixels a side"
        for what, column, metric in [*(("distortion", k, m) for k, m, _ in self._distortions), *(("critic", k, m) for k, m in self._critics)]:
            if side < metric.min_size:
                raise InputError(f"{what} {column!r} needs images of at least {metric.min_size}×{metric.min_size}, but {these}; {fix}.")

    def update(self, x: torch.Tensor, x_hat: torch.Tensor, names: Sequence[str] | None = None) -> dict[str, list[float]]:
        """Measure a batch of decoded images `x_hat` against their originals `x`; returns this batch's per-image values."""
        x_hat = x_hat.to(x.device, x.dtype)
        n = x.shape[0]
        names = list(names) if names is not None else [str(len(self.images) + i) for i in range(n)]
        if len(names) != n:
            raise InputError(f"{len(names)} image names were given for {n} images; give one name per image.")
        batch: dict[str, list[float]] = {}
        with torch.no_grad():
            if self.measures.psnr:
                batch["psnr-rgb"] = [min(float(v), PSNR_CAP) for v in psnr(x, x_hat)]
            for key, metric, similarity in self._distortions:
                values = metric(x, x_hat).double().cpu()
                batch[key] = (1 - values if similarity else values).tolist()
            for key, critic in self._critics:
                batch[key] = critic.score(x_hat).double().cpu().tolist()
            if self._extractor is not None:
                for out, images in zip(self._features, (x, x_hat)):
                    p = patches(images, self.measures.features_patch)
                    out.extend(self._extractor.features(p[i : i + FEATURE_BATCH].to(self.device)).double().cpu()
                               for i in range(0, len(p), FEATURE_BATCH))
        if self.measures.divergences:
            if self.measures.patch:
                self._real.append(_uint8(patches(x, self.measures.patch)))
                self._decoded.append(_uint8(patches(x_hat, self.measures.patch)))
            else:  # whole images as they are: a divergence may see what 8 bits would round away
                self._real.append(x.detach().cpu())
                self._decoded.append(x_hat.detach().cpu())
            self._dtype = x.dtype
        for key, values in batch.items():
            self._values[key].extend(values)
        self.images.extend(names)
        return batch

    def _samples(self, parts: list[torch.Tensor], what: str) -> torch.Tensor:
        shapes = {tuple(p.shape[1:]) for p in parts}
        if len(shapes) > 1:
            raise InputError(f"the divergences compare {what} of one size, but the images are of {len(shapes)} sizes; "
                             "compare their patches instead (a patch size such as 64).")
        out = torch.cat(parts)
        return out.to(self.device, self._dtype) / 255 if out.dtype == torch.uint8 else out.to(self.device)

    def compute(self, real: torch.Tensor | None = None) -> Measured:
        """The per-image table and every set quantity; divergences compare `real` (default: the originals) with the decoded images."""
        if not self.images:
            raise InputError("nothing was measured: update the meter with at least one image first.")
        divergences: dict[str, Estimate] = {}
        if self.measures.divergences:
            if real is None:
                real_set = self._samples(self._real, "images")
            else:
                real_set = patches(real, self.measures.patch) if self.measures.patch else real
                real_set = real_set.to(self.device)
            decoded_set = self._samples(self._decoded, "images")
            for c in self.measures.divergences:
                div = _divergence(self.registry, c, self.seed)  # outside no_grad: a divergence may train a critic
                divergences[str(c)] = div.estimate(real_set, decoded_set, bootstrap=self.measures.bootstrap, seed=self.seed)
                self.components[f"divergence:{c}"] = div.info.as_dict()
                self.columns.setdefault(str(c), Column(str(c), "divergence", str(c), bounds=tuple(div.bounds)))  # type: ignore[arg-type]
        scores = self._patch_scores() if self._extractor is not None else None
        return Measured(tuple(self.images), dict(self.columns), {k: tuple(v) for k, v in self._values.items()}, divergences, scores,
                        dict(self.components), self.measures.patch)

    def _patch_scores(self) -> PatchScores:
        """FID, the paired KID and KID in the field's form between the features of original and decoded patches
        (features computed once for both); see `PatchScores`."""
        features = self.measures.features
        assert features is not None and self._extractor is not None
        fr, ff = torch.cat(self._features[0]), torch.cat(self._features[1])
        kind, n, dim = self._extractor.feature_kind, len(fr), fr.shape[1]
        few = f"fewer than {MIN_PATCHES} patches ({n}): the standard error and interval rest on too few samples to be trusted (MIN_PATCHES)"

        def labelled(est: Estimate, name: str, unreliable: str | None, **more: Any) -> Estimate:
            details = {**est.details, **more, **({"unreliable": unreliable} if unreliable else {})}
            return replace(est, quantity=f"{name} on {kind} features ({features}), n = {n} patch pairs", details=details)

        fid = self.registry.create("divergence", "frechet").estimate(fr, ff)
        singular = f"no more patches ({n}) than features ({dim}): the covariances are singular" if n <= dim else None
        fid = labelled(fid, "FID", "; ".join(filter(None, (few if n < MIN_PATCHES else None, singular))) or None, bias=FID_BIAS)
        kid = self.registry.create("divergence", "kid", paired=True).estimate(fr, ff)
        kid = labelled(kid, "KID (paired u-statistic)", few if n < MIN_PATCHES else None)
        field_form = self.registry.create("divergence", "kid", subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE).estimate(fr, ff)
        field_form = labelled(field_form, "KID (torch-fidelity's form)", few if n < MIN_PATCHES else None,
                              caution="the original and decoded patches are paired, so this form counts each patch against its own decoding and reads low")
        for key in ("fid", "kid"):
            self.columns[key] = Column(key, key, str(features), bounds=(0.0, math.inf) if key == "fid" else (-math.inf, math.inf))
        return PatchScores(str(features), kind, n, fid, kid, field_form)


@dataclass(frozen=True)
class Measured:
    """What a meter found: one typed per-image table (`images` × per-image `columns`) and the set quantities."""

    images: tuple[str, ...]
    columns: dict[str, Column]
    values: dict[str, tuple[float, ...]]  # per-image column → one value per image, in `images` order
    divergences: dict[str, Estimate] = field(default_factory=dict)
    patch_scores: PatchScores | None = None
    components: dict[str, dict[str, Any]] = field(default_factory=dict)  # registry records of what measured
    patch: int = 0

    def mean(self, key: str) -> Measurement:
        return Measurement.of(list(self.values[key]))

    def _means(self, kind: str) -> dict[str, Measurement]:
        return {c.component: self.mean(k) for k, c in self.columns.items() if c.kind == kind}

    @property
    def distortions(self) -> dict[str, Measurement]:
        """Each distortion's mean over images, keyed by the component as written."""
        return self._means("distortion")

    @property
    def critics(self) -> dict[str, Measurement]:
        """Each critic's mean score over images, keyed by the component as written."""
        return self._means("critic")

    def rows(self) -> list[dict[str, float | str]]:
        """The per-image table as rows: ``{"image": name, column: value, ...}``."""
        per_image = [k for k, c in self.columns.items() if c.kind in PER_IMAGE]
        return [{"image": name, **{k: self.values[k][i] for k in per_image}} for i, name in enumerate(self.images)]

    def perception(self, component: Component, kind: str) -> Perception:
        """The perception index `component` (a divergence or a critic this meter measured) as a harness reports it."""
        name = str(component)
        if kind == "divergence":
            return Perception(f"{name} on {self.patch}×{self.patch} patches" if self.patch else name, kind, self.divergences[name])
        m = self.critics[name]
        return Perception(name, kind, Estimate(m.mean, m.stderr, m.n, "mean critic score"))
