"""One metric on one chunk of a judged dataset: a trial of the result store.

A dataset's image pairs (or images, for a no-reference critic) are cut into chunks of
`CHUNK` items; each (metric, chunk) is one trial, so a killed run loses at most the chunks in
flight, a rerun resumes, and adding a metric runs only that metric's chunks. Scores are the
metric's own values through the measurement layer (rdpkit.measures): a distortion's Δ(x, x̂)
with x the reference, a critic's score of the image; lower is better for both. An image the
metric refuses (too small, wrong channels, unreadable) gets no score and its one-sentence
reason, and the rest of the chunk is scored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import RdpkitError
from ..measures import Measures
from ..options import Component
from ..registry import Registry
from ..trial.base import Result, Trial, check_component, software_versions

KIND = "judge"
#: Items per trial: large enough that a trial's start-up is a small share, small enough that a kill loses little.
CHUNK = 200
#: What a metric scores an item with: Δ(reference, image), or a critic's score of the image alone.
METRIC_KINDS = ("distortion", "critic")


@dataclass(frozen=True)
class JudgeResult(Result):
    """A metric's score of every item of a chunk (None where it refused the image), and why it refused."""

    scores: list[float | None]
    errors: dict[int, str]  # item index in the chunk → one sentence
    seconds: float
    device: str
    software: dict[str, str] = field(default_factory=dict)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_record(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"scores": self.scores, "errors": {str(k): v for k, v in self.errors.items()}, "seconds": self.seconds,
                "device": self.device, "software": self.software, "components": self.components}, {}

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes]) -> JudgeResult:
        return cls([None if s is None else float(s) for s in record["scores"]], {int(k): str(v) for k, v in record["errors"].items()},
                   float(record["seconds"]), str(record["device"]), record.get("software", {}), record.get("components", {}))


@dataclass(frozen=True)
class JudgeTrial(Trial):
    """`metric` (a distortion or a critic) on `items`, (image, reference) paths; the reference is empty for a critic."""

    metric: Component
    metric_kind: str
    dataset: str  # the dataset's identity (its name and a digest of its files)
    chunk: int
    items: tuple[tuple[str, str], ...]
    requested_device: str = "auto"

    kind = KIND

    @classmethod
    def result_type(cls) -> type[Result]:
        return JudgeResult

    @property
    def device(self) -> str:
        return self.requested_device

    def identity(self) -> dict[str, Any]:
        return {"metric": str(self.metric), "metric_kind": self.metric_kind, "dataset": self.dataset, "chunk": self.chunk,
                "items": [list(item) for item in self.items]}

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> JudgeTrial:
        return cls(Component.parse(identity["metric"]), identity["metric_kind"], identity["dataset"], int(identity["chunk"]),
                   tuple((str(a), str(b)) for a, b in identity["items"]))

    def validate(self, registry: Registry) -> None:
        check_component(self.metric, self.metric_kind, registry)

    def run(self, device: str, registry: Registry, progress: bool = False) -> JudgeResult:
        from tqdm.auto import tqdm

        from ..data import load_image

        start = time.perf_counter()
        dev = torch.device(device)
        as_critic = self.metric_kind == "critic"
        measures = Measures(critics=(self.metric,)) if as_critic else Measures(distortions=(self.metric,))
        meter = measures.meter(registry, dev)
        (column,) = meter.columns
        scores: list[float | None] = []
        errors: dict[int, str] = {}
        for i, (image, reference) in enumerate(tqdm(self.items, desc=str(self.metric), unit="image", disable=not progress or None, leave=False)):
            try:
                x_hat = load_image(image).to(dev)
                x = x_hat if as_critic else load_image(reference).to(dev)
                scores.append(meter.update(x, x_hat, [image])[column][0])
            except (RdpkitError, OSError, ValueError, RuntimeError) as exc:  # one image's problem; the chunk goes on
                scores.append(None)
                errors[i] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JudgeResult(scores, errors, time.perf_counter() - start, str(dev), software_versions(), dict(meter.components))
