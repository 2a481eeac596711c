"""One trial of a sweep: fit (if learnable) and run a codec, decode held-out data, measure it.

A `SweepTrial` holds everything it needs, so it runs the same in any process: a local pool
worker, a Ray task, or the caller's own process. It is deterministic under its seed at a given
number of torch threads. `SweepResult` is the one place that says what a stored sweep result
holds; `SweepResult.row()` is its flat form (the columns of `results_frame`, the CSV and the
`results` command), so a new measured quantity is added here and in the figure that shows it.

Measured, on the held-out test split:

- rate from the real bytes of the test split's bitstream (rdpkit.codecs.measure): bits per
  image and bits per pixel, container included, and the payload alone;
- each distortion's mean over test images with its standard error;
- the perception index: a divergence between the *reference* split (real images the codec
  never saw; the test images themselves when that split is empty) and the decoded outputs,
  e.g. a fresh critic trained on them as in Blau & Michaeli (ICML 2019, footnote 7); or a
  no-reference critic's mean score; and every other divergence and critic asked for.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..codecs.measure import Rate, round_trip
from ..errors import InputError
from ..interfaces import Estimate
from ..measures import Measurement, Perception, seed_everything
from ..options import Component
from ..registry import Registry
from ..report import image_grid_png
from ..trial.base import Result, Trial, software_versions
from .config import DataConfig, EvaluateConfig, SweepConfig
from .measure import measure_outputs

#: The store's `kind` for sweep trials.
KIND = "sweep"


@functools.lru_cache(maxsize=4)
def _dataset(data: DataConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from ..data import split

    x = data.images()  # those that read: each one that does not was named when the sweep was checked (DataConfig.check_images)
    if data.limit:
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(data.split_seed))[: data.limit]]
    train, reference, test = split(x, list(data.split), seed=data.split_seed)
    return train, reference if len(reference) else test, test


def dataset(data: DataConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (codec training, critic reference, test) splits of a data configuration (reference = test when its fraction is 0)."""
    return _dataset(data)


def fit_codec(codec: Any, train: torch.Tensor, fit: Mapping[str, Any], seed: int, device: str, progress: bool = False) -> None:
    """Train a learnable codec, giving it the seed, device and progress flag when its fit() takes them."""
    accepted = inspect.signature(codec.fit).parameters
    extra = {k: v for k, v in (("seed", seed), ("device", device), ("progress", progress)) if k in accepted and k not in fit}
    codec.fit(train, **fit, **extra)


def _option_value(codec: Any, option: str, options: Mapping[str, Any]) -> float | None:
    """The value a codec was built with for `option`: as given, else its factory's default."""
    if option in options:
        return float(options[option])
    param = inspect.signature(type(codec)).parameters.get(option)
    return float(param.default) if param is not None and isinstance(param.default, (int, float)) else None


@dataclass(frozen=True)
class SweepResult(Result):
    """What a sweep trial measured (see the module docstring)."""

    rate: Rate
    distortions: dict[str, Measurement]
    primary_distortion: str
    divergences: dict[str, Estimate]
    critics: dict[str, Measurement]
    perception: Perception
    fit_seconds: float
    encode_seconds: float
    decode_seconds: float
    wall_seconds: float
    device: str
    threads: int
    perception_weight: str | None = None  # the codec option that weighs perception in its training (its `perception_weight`)
    lam: float | None = None  # that option's value in this trial
    software: dict[str, str] = field(default_factory=dict)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: bytes | None = field(default=None, repr=False)  # decoded test images, tiled (PNG)
    originals: bytes | None = field(default=None, repr=False)  # the same test images before coding

    def to_record(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        record = {
            "rate": self.rate.as_dict(),
            "distortions": {k: v.as_dict() for k, v in self.distortions.items()},
            "primary_distortion": self.primary_distortion,
            "divergences": {k: v.as_dict() for k, v in self.divergences.items()},
            "critics": {k: v.as_dict() for k, v in self.critics.items()},
            "perception": self.perception.as_dict(),
            "fit_seconds": self.fit_seconds, "encode_seconds": self.encode_seconds, "decode_seconds": self.decode_seconds,
            "wall_seconds": self.wall_seconds, "device": self.device, "threads": self.threads,
            "perception_weight": self.perception_weight, "lam": self.lam, "software": self.software, "components": self.components,
        }
        artifacts = {name: data for name, data in (("samples.png", self.samples), ("originals.png", self.originals)) if data}
        return record, artifacts

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes]) -> SweepResult:
        return cls(
            rate=Rate(**record["rate"]),
            distortions={k: Measurement(**v) for k, v in record["distortions"].items()},
            primary_distortion=record["primary_distortion"],
            divergences={k: Estimate.from_dict(v) for k, v in record["divergences"].items()},
            critics={k: Measurement(**v) for k, v in record.get("critics", {}).items()},
            perception=Perception.from_dict(record["perception"]),
            fit_seconds=record.get("fit_seconds", 0.0), encode_seconds=record.get("encode_seconds", float("nan")),
            decode_seconds=record.get("decode_seconds", float("nan")), wall_seconds=record["wall_seconds"],
            device=record["device"], threads=record["threads"], perception_weight=record.get("perception_weight"), lam=record.get("lam"),
            software=record.get("software", {}),
            components=record.get("components", {}), samples=artifacts.get("samples.png"), originals=artifacts.get("originals.png"),
        )

    def check(self) -> None:
        super().check()
        self.row()  # the primary distortion among the distortions

    def row(self) -> dict[str, Any]:
        """The flat columns of this result: rate, the primary distortion and perception, every measurement, times."""
        primary = self.distortions[self.primary_distortion]
        row: dict[str, Any] = {
            "rate_bits": self.rate.bits_per_image, "bpp": self.rate.bpp, "payload_bits": self.rate.payload_bits_per_image,
            "distortion": primary.mean, "distortion_stderr": primary.stderr, "distortion_name": self.primary_distortion,
            "perception": self.perception.value, "perception_stderr": self.perception.stderr, "perception_name": self.perception.name,
        }
        for name, m in self.distortions.items():
            row[f"D.{name}"], row[f"D.{name}.stderr"] = m.mean, m.stderr
        for name, e in self.divergences.items():
            row[f"P.{name}"], row[f"P.{name}.stderr"] = e.value, e.stderr
        for name, m in self.critics.items():
            row[f"C.{name}"], row[f"C.{name}.stderr"] = m.mean, m.stderr
        weight = float("nan") if self.lam is None else float(self.lam)
        # The weight under the codec's own name for it (gan: lam, hific: lam_p), and under one name that reports group by.
        row.update({self.perception_weight: weight} if self.perception_weight and self.perception_weight not in row else {})
        row.update(weight_option=self.perception_weight or "", weight=weight, fit_seconds=self.fit_seconds, encode_seconds=self.encode_seconds, decode_seconds=self.decode_seconds,
                   seconds=self.wall_seconds, device=self.device)
        return row


@dataclass(frozen=True)
class SweepTrial(Trial):
    """One codec setting × one seed of a sweep (or one codec setting of the P-D plane)."""

    codec: Component
    label: str
    fit: dict[str, Any]
    seed: int
    data: DataConfig
    evaluate: EvaluateConfig
    requested_device: str = "auto"

    kind = KIND

    @classmethod
    def result_type(cls) -> type[Result]:
        return SweepResult

    @property
    def device(self) -> str:
        return self.requested_device

    def validate(self, registry: Registry) -> None:
        # The seed seeds torch and numpy (seed_everything), and numpy takes no other.
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise InputError(f"seed {self.seed!r} is out of range: a sweep or plane trial seeds torch and numpy with it, which take integers from 0 to 2**32 - 1; choose one there.")

    def identity(self) -> dict[str, Any]:
        return {"codec": self.codec.name, "label": self.label, "options": self.codec.options, "fit": self.fit, "seed": self.seed,
                "data": self.data.identity(), "evaluate": self.evaluate.identity()}

    @classmethod
    def from_identity(cls, config: Mapping[str, Any]) -> SweepTrial:
        """The trial a stored configuration describes (its data source as stored)."""
        data = {**config["data"], "source": str(config["data"]["source"]).split("#sha256:")[0]}
        data["split"] = tuple(data["split"])
        return cls(Component(config["codec"], dict(config["options"])), config["label"], dict(config["fit"]), int(config["seed"]),
                   DataConfig(**data), EvaluateConfig.from_dict(config["evaluate"]))

    def run(self, device: str, registry: Registry, progress: bool = False) -> SweepResult:
        start = time.perf_counter()
        train, reference, test = dataset(self.data)
        dev = torch.device(device)
        seed_everything(self.seed)
        codec = registry.create("codec", self.codec.name, **self.codec.options)
        fit_seconds = 0.0
        if codec.learnable:
            t = time.perf_counter()
            fit_codec(codec, train.to(dev), self.fit, self.seed, device, progress)
            fit_seconds = time.perf_counter() - t
        x = test.to(dev)
        coded = round_trip(codec, x, seed=self.seed)
        measured, perception = measure_outputs(x, coded.x_hat, reference.to(dev), self.evaluate, seed=self.seed, registry=registry)
        k = min(self.evaluate.samples, x.shape[0])
        weight = codec.perception_weight
        return SweepResult(
            rate=coded.rate, distortions=measured.distortions, primary_distortion=str(self.evaluate.distortions[0]),
            divergences=measured.divergences, critics=measured.critics, perception=perception,
            fit_seconds=fit_seconds, encode_seconds=coded.encode_seconds, decode_seconds=coded.decode_seconds,
            wall_seconds=time.perf_counter() - start,
            device=str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
            threads=torch.get_num_threads(), perception_weight=weight, lam=_option_value(codec, weight, self.codec.options) if weight else None,
            software=software_versions(),
            components={"codec": codec.info.as_dict() if codec.info else {"name": self.codec.name}, **measured.components},
            samples=image_grid_png(coded.x_hat[:k]) if k else None, originals=image_grid_png(x[:k]) if k else None,
        )


def sweep_grid(config: SweepConfig, registry: Registry) -> list[SweepTrial]:
    """Every trial of a sweep, in grid order: each codec's settings (λ varying fastest) × seeds."""
    out = []
    for c in config.codecs:
        for setting in c.settings(registry):
            for seed in config.seeds:
                out.append(SweepTrial(setting, c.label, c.fit, seed, config.data, config.evaluate, config.device))
    return out
