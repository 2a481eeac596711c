"""`rdpkit judge`: registered metrics × judged datasets through the trial layer, and how well they agree with people.

Every (metric, dataset) is cut into chunks of images (`rdpkit.judge.trial`), run by the one
harness driver (`rdpkit.trial.drive`): scores are kept in the store, a rerun resumes, adding a
metric runs only that metric, a killed run loses at most the chunks in flight. What a metric
scores:

- a rated set (TID2013, KonIQ-10k, ...): each rated image, against its reference for a
  distortion, alone for a no-reference critic (a critic may also be judged on a full-reference
  set: it then ignores the references);
- BAPPS 2AFC: Δ(reference, p0) and Δ(reference, p1) of each triplet (distortions only);
- BAPPS JND: Δ(p0, p1) of each pair (distortions only).

The agreement statistics are `rdpkit.judge.statistics`'; `Judgement` holds the scores and
computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UnknownNameError
from ..options import Component
from ..registry import Registry, get_registry
from ..trial import RunSummary
from ..trial.driver import drive
from ..trial.executors import check_executor
from ..validation import check_device
from .datasets import Judgments, Pairs2AFC, Ratings, check_images, judgments
from .trial import CHUNK, JudgeResult, JudgeTrial

DEFAULT_STORE = Path("rdpkit-judge") / "judge.sqlite"


def scored_items(ds: Judgments) -> list[tuple[str, str]]:
    """The (image, reference) pairs a metric scores on `ds`, in the order `Scored.scores` holds them (see the module docstring)."""
    if isinstance(ds, Ratings):
        return [(item.image, item.reference or "") for item in ds.items]
    if isinstance(ds, Pairs2AFC):
        return [pair for t in ds.items for pair in ((t.p0, t.reference), (t.p1, t.reference))]
    return [(p.p1, p.p0) for p in ds.items]


def metric_kind(metric: Component, ds: Judgments, registry: Registry) -> str:
    """``distortion`` or ``critic``: what `metric` is, refused in one sentence where it cannot be judged on `ds`."""
    for kind in ("distortion", "critic"):
        try:
            registry.info(kind, metric.name)
        except UnknownNameError:
            continue
        if kind == "distortion" and isinstance(ds, Ratings) and not ds.full_reference:
            raise InputError(f"{ds.name} has no reference images, so the distortion {metric.name!r} cannot score it; judge a "
                             "no-reference critic there (e.g. niqe), or the distortion on a full-reference set (tid2013, csiq, ...).")
        if kind == "critic" and not isinstance(ds, Ratings):
            raise InputError(f"{ds.name} asks which of two images is closer to a reference, which a no-reference critic such as "
                             f"{metric.name!r} cannot answer; judge a distortion there.")
        return kind
    registry.info("distortion", metric.name)  # unknown everywhere: the registry's sentence, with the close names
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Scored:
    """One metric's scores on one dataset: one per scored item (None where the metric refused the image), and why."""

    metric: Component
    kind: str  # distortion | critic: lower is better for both
    scores: tuple[float | None, ...]
    errors: dict[str, str]  # image → the one-sentence reason it has no score

    def refused(self) -> str:
        """The images without a score, in one sentence (empty when every image was scored)."""
        if not self.errors:
            return ""
        first, why = next(iter(self.errors.items()))
        more = f" and {len(self.errors) - 1} more" if len(self.errors) > 1 else ""
        return f"{self.metric} scored no value for {Path(first).name}{more}: {why}"


@dataclass(frozen=True)
class LeftOut:
    """The image files of a judgment set that do not read (each with why), and how many judgments named them, dropped with them."""

    files: dict[str, str]
    judgments: int
    of: int  # the judgments of the set before

    def sentence(self, dataset: str) -> str:
        return (f"{self.judgments:,} of the {self.of:,} judgments of {dataset} were dropped: they name {len(self.files)} image file(s) "
                "that do not read; replace them to score those judgments.")


@dataclass
class Judgement:
    """What `judge` gives back: the datasets (without the judgments of images that do not read), each metric's scores on each, and what failed."""

    datasets: dict[str, Judgments]
    scored: dict[tuple[str, str], Scored]  # (dataset name, metric as written) → scores
    store: Path
    summary: RunSummary | None = None
    failed: dict[str, str] = field(default_factory=dict)  # "metric on dataset" → why (a whole chunk failed)
    left_out: dict[str, LeftOut] = field(default_factory=dict)  # dataset name → its judgments dropped with their unreadable images

    def metrics(self, dataset: str) -> list[Scored]:
        return [s for (d, _), s in self.scored.items() if d == dataset]


def judge(
    metrics: Sequence[str | Component],
    datasets: Sequence[str],
    *,
    store: str | Path = DEFAULT_STORE,
    device: str = "auto",
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
) -> Judgement:
    """Score every item of every dataset with every metric (resuming from `store`); see the module docstring.

    `metrics`: registered distortions or critics with options (``ssim``, ``lpips-alex,pretrained=false``);
    `datasets`: judgment sets (``tid2013:~/data/TID2013``, ``bapps-2afc:~/data/dataset``). An image that does not read is
    left out with a `SkippedImage` warning, and the judgments that name it with it (`Judgement.left_out`).
    """
    registry = registry or get_registry()
    check_executor(executor, workers, address)
    device = check_device(device)
    if not metrics or not datasets:
        raise InputError("judge needs at least one metric and one dataset, e.g. --metric ssim --data tid2013:~/data/TID2013.")
    components = [Component.parse(m, what="metric") for m in metrics]
    loaded = [judgments(d, registry) for d in datasets]
    names = [ds.name for ds in loaded]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"the dataset {twice[0]} is given twice; give each judgment set once.")
    kinds = {(ds.name, str(c)): metric_kind(c, ds, registry) for ds in loaded for c in components}
    left_out: dict[str, LeftOut] = {}
    for n, ds in enumerate(loaded):  # every image read once, after the cheap checks and before any scoring
        loaded[n], files, dropped = check_images(ds)
        if files:
            left_out[ds.name] = LeftOut(files, dropped, len(ds))
    plan: dict[tuple[str, str], list[JudgeTrial]] = {}
    for ds in loaded:
        items = tuple(scored_items(ds))
        identity = ds.identity()
        for c in components:
            kind = kinds[ds.name, str(c)]
            plan[ds.name, str(c)] = [JudgeTrial(c, kind, identity, i // CHUNK, items[i : i + CHUNK], device) for i in range(0, len(items), CHUNK)]
    trials = [t for ts in plan.values() for t in ts]
    driven = drive(trials, store, executor=executor, workers=workers, address=address, force=force, progress=progress,
                   desc="judge", registry=registry)
    judgement = Judgement({ds.name: ds for ds in loaded}, {}, Path(store), driven.summary, left_out=left_out)
    for (dataset, metric), ts in plan.items():
        failures = [driven.failures[t.key] for t in ts if t.key in driven.failures]
        if failures:
            judgement.failed[f"{metric} on {dataset}"] = f"{len(failures)} of {len(ts)} chunks failed: {failures[0]}"
            continue
        results: list[JudgeResult] = [driven.results[t.key] for t in ts]  # type: ignore[misc]
        scores = tuple(s for r in results for s in r.scores)
        errors = {t.items[i][0]: why for t, r in zip(ts, results) for i, why in r.errors.items()}
        judgement.scored[dataset, metric] = Scored(ts[0].metric, ts[0].metric_kind, scores, errors)
    return judgement
