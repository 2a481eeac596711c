"""`rdpkit evaluate`: codecs × settings on a dataset, through the trial layer, into curves.

Codec settings are components (``jpeg,quality=30``); a grid of settings is written as everywhere
in rdpkit (`rdpkit.options.Component.grid`): an option given a list of values where it takes
one value is one setting per value (``jpeg,quality=[10,30,50]``; several lists: every
combination), while an option that takes a list keeps it (``lam=[0.1,0.2]``). The settings of
one codec (its name and its fixed options) form one R-D curve.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..anchors import ResultFile
from ..datasets import Dataset, check_images, dataset
from ..errors import InputError, RdpkitError, WeightsUnavailable
from ..interfaces import Estimate
from ..measures import Measures
from ..measures.meter import MIN_PATCHES
from ..options import Component, combinations
from ..patches import patch_positions
from ..registry import Registry, get_registry
from ..store import Store
from ..trial import RunSummary
from ..trial.driver import drive
from ..trial.executors import check_executor
from .trial import EvaluateResult, EvaluateTrial

#: Metrics every evaluation measures (PSNR comes with every trial).
DEFAULT_DISTORTIONS = ("ms-ssim",)
#: Feature extractors for FID/KID by what their features are, best first: a pretrained network (the field's
#: Inception-v3) when its weights are here, then features a model learned, then hand-crafted statistics.
FEATURE_KINDS = ("pretrained", "self-trained", "hand-crafted")


def expand(codec: str | Component, registry: Registry | None = None) -> tuple[str, list[Component]]:
    """A codec component with a grid of options → (its curve's label, one setting per combination).

    An option is a grid when given a list deeper than the option takes (rdpkit.options: `Component.grid`):
    ``jpeg,quality=[10,30]`` is two settings, a variable-rate model's ``lam=[0.1,0.2]`` one.
    """
    fixed, varied = Component.parse(codec, what="codec").grid("codec", registry)
    return str(fixed), combinations(fixed, varied)


def _patch_count(ds: Dataset, sizes: Sequence[tuple[int, int]], side: int, needs: str, fix: str) -> int:
    """How many side×side patches the images hold (rdpkit.patches; a smaller image holds none), refused in one sentence below 2."""
    count = sum(len(patch_positions(h, w, side)) for h, w in sizes)
    if count < 2:
        raise InputError(f"the {len(ds.images)} image(s) of {ds.name} hold {count} patch(es) of {side}×{side}; {needs} at least 2: {fix}.")
    return count


def default_distortions(registry: Registry) -> tuple[list[Component], dict[str, str]]:
    """MS-SSIM and every deep distortion whose weights are on this machine; and why the others were left out."""
    chosen = [Component(n) for n in DEFAULT_DISTORTIONS]
    left_out: dict[str, str] = {}
    for info in registry.infos("distortion"):
        if not info.needs_weights:
            continue
        try:
            registry.create("distortion", info.qualified_name)
        except (WeightsUnavailable, RdpkitError) as exc:
            left_out[info.name] = str(exc)
            continue
        chosen.append(Component(info.qualified_name))
    return chosen, left_out


def default_features(registry: Registry) -> tuple[Component | None, dict[str, str]]:
    """The registered feature extractor that works here with the best kind of features (`FEATURE_KINDS`), and why the others did not."""
    left_out: dict[str, str] = {}
    usable: list[tuple[int, str]] = []
    for info in registry.infos("features"):
        try:
            kind = registry.create("features", info.qualified_name).feature_kind
        except RdpkitError as exc:
            left_out[info.name] = str(exc)
            continue
        if kind in FEATURE_KINDS:
            usable.append((FEATURE_KINDS.index(kind), info.name))
    return (Component(min(usable)[1]) if usable else None), left_out


@dataclass
class Evaluation:
    """What an evaluation holds: its trials' results by curve, the anchors, and what was left out and why."""

    dataset: Dataset
    curves: dict[str, list[tuple[EvaluateTrial, EvaluateResult]]]
    anchors: list[ResultFile]
    store: Path
    summary: RunSummary | None = None
    left_out: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # setting → why
    registry: Registry | None = field(default=None, repr=False, compare=False)  # where the divergences are built (None: the installed plugins)
    _resolution: dict[str, Estimate] | None = field(default=None, init=False, repr=False, compare=False)

    def resolution(self) -> dict[str, Estimate]:
        """Each patch divergence of the originals against themselves, with the settings' patches, bootstrap and seed: what
        a decoder that returned the originals exactly would read. An interval that reaches below this one's upper end
        cannot be told from perfect realism on these images (a paired estimator resamples pairs and reads 0 [0, 0]).
        Only divergences with an interval (a bootstrap of at least 2); measured once per evaluation."""
        if self._resolution is None:
            self._resolution = self._measure_resolution()
        return self._resolution

    def _measure_resolution(self) -> dict[str, Estimate]:
        from ..data import load_image

        points = [t for ts in self.curves.values() for t, _ in ts]
        if not points or not points[0].divergences or points[0].bootstrap < 2:
            return {}
        t = points[0]
        meter = Measures(divergences=t.divergences, patch=t.divergence_patch, bootstrap=t.bootstrap).meter(self.registry or get_registry(), seed=t.seed)
        try:
            for image in self.dataset.images:
                x = load_image(image)
                meter.update(x, x.clone())
        except RdpkitError as exc:  # a report written from a store where the images are no longer at hand
            self.left_out["resolution of the divergences"] = f"the originals could not be read again ({str(exc).rstrip('.')})"
            return {}
        return {name: e for name, e in meter.compute().divergences.items() if e.ci is not None}

    def measured(self) -> list[str]:
        """Every measure column of the settings, in the order they were measured."""
        return list(dict.fromkeys(k for points in self.curves.values() for _, r in points for k in r.measured()))

    def result_files(self) -> list[ResultFile]:
        """Each codec's curve as a CompressAI result file (rate points sorted by rate; meta: its dataset and how its rate counts), then the anchors."""
        out = []
        for label, points in self.curves.items():
            summaries = sorted((r.summary() for _, r in points), key=lambda s: s["bpp"])
            unreliable = {k: why for _, r in points for k, why in r.unreliable().items()}
            for k, why in unreliable.items():  # never drawn nor compared: the CSV and the page still hold the value and why
                self.left_out[f"{k} curve and BD of {label}"] = why
            measures = [k for k in summaries[0] if k not in unreliable and all(math.isfinite(s.get(k, math.nan)) for s in summaries)] if summaries else []
            results = {k: [s[k] for s in summaries] for k in ["bpp", *[m for m in measures if m != "bpp"]]}
            trial = points[0][0]
            description = f"rdpkit evaluate on {self.dataset.name} ({len(self.dataset.images)} images)"
            meta = {"source": "rdpkit", "dataset": self.dataset.name, "codec": trial.codec.name,
                    "rate": "bpp counts rdpkit's container; payload_bpp the codec's bytes alone, as CompressAI's published curves count",
                    "settings": [str(t.codec) for t, _ in sorted(points, key=lambda p: p[1].summary()["bpp"])],
                    "higher_is_better": points[0][1].higher_is_better()}
            if trial.features is not None and points[0][1].patch_scores is not None:
                scores = points[0][1].patch_scores
                meta.update(features=scores.features, feature_kind=scores.feature_kind, patches=scores.patches)
            out.append(ResultFile(label, description, results, meta))
        return [*out, *self.anchors]


def evaluate(
    codecs: Sequence[str | Component],
    data: str = "builtin:held-out",
    *,
    distortions: Sequence[str | Component] | None = None,
    critics: Sequence[str | Component] = (),
    divergences: Sequence[str | Component] = (),
    divergence_patch: int = 64,
    bootstrap: int = 0,
    features: str | Component | None = "auto",
    anchors: Sequence[str] = (),
    store: str | Path = Path("rdpkit-evaluate") / "evaluate.sqlite",
    patch_size: int = 256,
    seed: int = 0,
    device: str = "auto",
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
) -> Evaluation:
    """Run every codec setting on the dataset `data` (resuming from `store`) and gather the curves.

    `distortions`: None for `default_distortions`; `critics`: no-reference critics (their mean
    score per setting); `divergences`: between the originals' and the decoded images'
    `divergence_patch`-sided patches, with `bootstrap` resamples for their intervals; `features`: a registered feature extractor
    for FID/KID on patches, ``"auto"`` for the best one that works here, None for no FID/KID;
    `anchors`: result files (``published:vtm`` or paths) drawn and compared with.
    """
    from ..anchors import anchor as read_anchor
    from ..validation import check_device

    registry = registry or get_registry()
    check_executor(executor, workers, address)
    device = check_device(device)
    if not codecs and not anchors:
        raise InputError("evaluate needs at least one codec setting, e.g. --codec jpeg,quality=[10,30,50].")
    named = dataset(data, registry)
    left_out: dict[str, str] = {}
    if distortions is None:
        metrics, left_out = default_distortions(registry)
    else:
        metrics = [Component.parse(d, what="distortion") for d in distortions]
    if features == "auto":
        extractor, skipped = default_features(registry)
        left_out.update({f"features {k}": v for k, v in skipped.items()})
    else:
        extractor = Component.parse(features, what="feature extractor") if features else None
    if not isinstance(patch_size, int) or isinstance(patch_size, bool) or patch_size < 16:
        raise InputError(f"patch_size must be an integer of at least 16 pixels, got {patch_size!r}.")
    measures = Measures(tuple(metrics), tuple(Component.parse(c, what="critic") for c in critics),
                        tuple(Component.parse(d, what="divergence") for d in divergences), divergence_patch, bootstrap,
                        features=extractor, features_patch=patch_size)
    meter = measures.check(registry)  # unknown names, bad options, missing weights: once, before anything runs
    expanded = [expand(c, registry) for c in codecs]
    ds, sizes, unreadable = check_images(named)  # every image read once, after the cheap checks and before any coding
    meter.check_side(min(min(hw) for hw in sizes))
    left_out.update({f"image {Path(image).name}": why for image, why in unreadable.items()})
    if extractor is not None:
        count = _patch_count(ds, sizes, patch_size, "FID and KID need", "use a smaller --patch-size, larger images, or --features none")
        if count < MIN_PATCHES:
            warnings.warn(f"the {len(ds.images)} image(s) of {ds.name} hold {count} patches of {patch_size}×{patch_size}, fewer than the {MIN_PATCHES} "
                          "FID and KID need to be trusted: they are reported as unreliable, neither drawn nor compared; use more or larger images "
                          "or a smaller --patch-size.", UserWarning, stacklevel=2)
    if divergences and divergence_patch:
        _patch_count(ds, sizes, divergence_patch, "a divergence needs", "use a smaller --divergence-patch or larger images")
    curves: dict[str, list[EvaluateTrial]] = {}
    for label, settings in expanded:
        curves.setdefault(label, []).extend(
            EvaluateTrial(s, label, ds, measures.distortions, extractor, patch_size, seed, device, measures.critics, measures.divergences,
                          divergence_patch, bootstrap) for s in settings)
    evaluation = Evaluation(ds, {}, [read_anchor(a) for a in anchors], Path(store), left_out=left_out, registry=registry)
    trials = [t for ts in curves.values() for t in ts]
    if not trials:
        return evaluation
    driven = drive(trials, store, executor=executor, workers=workers, address=address, force=force, progress=progress,
                   desc=f"evaluate on {ds.name}", registry=registry)
    evaluation.summary = driven.summary
    for label, ts in curves.items():
        found = [(t, driven.result(t)) for t in ts if driven.result(t) is not None]
        if found:
            evaluation.curves[label] = found  # type: ignore[assignment]
        evaluation.failed.update({str(t.codec): driven.failures[t.key] for t in ts if t.key in driven.failures})
    return evaluation


def from_store(db: Store, anchors: Sequence[str] = ()) -> Evaluation:
    """Every finished evaluation trial a store holds (of its first dataset), as an Evaluation."""
    from ..anchors import anchor as read_anchor

    done = [(t, r) for _, t, r in EvaluateTrial.stored(db) if r is not None]
    if not done:
        raise InputError(f"{str(db.path)!r} holds no finished evaluation; run `rdpkit evaluate --store {db.path}` first.")
    first = done[0][0].dataset  # type: ignore[attr-defined]
    curves: dict[str, list[tuple[EvaluateTrial, EvaluateResult]]] = {}
    for trial, result in done:
        if trial.dataset == first:  # type: ignore[attr-defined]
            curves.setdefault(trial.label, []).append((trial, result))  # type: ignore[attr-defined, arg-type]
    images = tuple(dict.fromkeys(img.image for points in curves.values() for _, r in points for img in r.images))
    return Evaluation(Dataset(first.name, images, first.spec), curves, [read_anchor(a) for a in anchors], Path(db.path))
