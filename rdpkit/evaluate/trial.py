"""One codec setting on one dataset: the codec papers' evaluation, as a trial of the store.

Each image is coded at its own size (no resizing: the rate is that of the image a user has);
per image, the rate from the real bytes of the container (bits per pixel, bytes) and of the
bare codec payload alone (``payload_bpp``, how CompressAI's published curves count), the encode
and decode time, and every measure of rdpkit.measures: PSNR over RGB, each distortion (an index
such as MS-SSIM reported as the index, under CompressAI's column name), each no-reference
critic. Over the dataset: the means as codec papers report them (PSNR as the mean of the
per-image PSNRs, as CompressAI does), each divergence between the original and decoded images'
patches, and FID and KID on the features of their 256×256 patches (rdpkit.patches), with n and
what the features are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..anchors import HIGHER_IS_BETTER as COMPRESSAI_HIGHER_IS_BETTER
from ..anchors import ms_ssim_db
from ..codecs.measure import round_trip
from ..datasets import Dataset
from ..errors import InputError
from ..interfaces import Estimate
from ..measures import Column, Measures, PatchScores
from ..options import Component
from ..registry import Registry
from ..trial.base import Result, Trial, check_component, software_versions
from ..validation import check_seed

KIND = "evaluate"
#: Side of the centre crop of the first image kept per setting, for the report's decoded crops side by side.
CROP = 192
#: Columns of a per-image row that describe the image and its coding rather than measure quality.
CODING = ("bytes", "bpp", "encoding_time", "decoding_time")


@dataclass(frozen=True)
class ImageRow:
    """One image of a dataset coded at one setting: its size, its rate, its times and every measured column."""

    image: str
    height: int
    width: int
    bytes: int
    bpp: float
    encoding_time: float
    decoding_time: float
    values: dict[str, float]  # measure column → value (psnr-rgb, ms-ssim-rgb, a critic's score, ...)
    payload_bpp: float | None = None  # the codec's payload without rdpkit's container; None: unknown (a result stored before it was kept)

    def as_dict(self) -> dict[str, Any]:
        """The flat row of per-image.csv (the order codec papers' tables use)."""
        return {"image": self.image, "height": self.height, "width": self.width, "bytes": self.bytes, "bpp": self.bpp,
                "payload_bpp": self.payload_bpp, **self.values, "encoding_time": self.encoding_time, "decoding_time": self.decoding_time}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageRow:
        fixed = ("image", "height", "width", "payload_bpp", *CODING)
        return cls(d["image"], d["height"], d["width"], d["bytes"], d["bpp"], d["encoding_time"], d["decoding_time"],
                   {k: v for k, v in d.items() if k not in fixed}, d.get("payload_bpp"))


def _legacy_columns(rows: list[ImageRow]) -> dict[str, Column]:
    """The columns of a result written before results declared them (by CompressAI's column names)."""
    keys = rows[0].values if rows else {}
    return {k: Column(k, "psnr" if k == "psnr-rgb" else "distortion", k, k in COMPRESSAI_HIGHER_IS_BETTER) for k in keys}


@dataclass(frozen=True)
class EvaluateResult(Result):
    """Per image and over the dataset (see the module docstring)."""

    images: list[ImageRow]
    patch_scores: PatchScores | None
    device: str
    software: dict[str, str] = field(default_factory=dict)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    divergences: dict[str, Estimate] = field(default_factory=dict)
    columns: dict[str, Column] = field(default_factory=dict)  # every measured column, with its direction and range
    crop: bytes | None = field(default=None, repr=False)  # PNG: the centre `CROP`² of the first image, decoded

    def to_record(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"images": [row.as_dict() for row in self.images], "patch_scores": self.patch_scores.as_dict() if self.patch_scores else None,
                "device": self.device, "software": self.software, "components": self.components,
                "divergences": {k: e.as_dict() for k, e in self.divergences.items()},
                "columns": [c.as_dict() for c in self.columns.values()]}, ({"crop.png": self.crop} if self.crop else {})

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes]) -> EvaluateResult:
        scores = record.get("patch_scores")
        rows = [ImageRow.from_dict(d) for d in record["images"]]
        columns = {c["key"]: Column.from_dict(c) for c in record["columns"]} if "columns" in record else _legacy_columns(rows)
        return cls(rows, PatchScores.from_dict(scores) if scores else None, record["device"], record.get("software", {}),
                   record.get("components", {}), {k: Estimate.from_dict(v) for k, v in record.get("divergences", {}).items()}, columns,
                   artifacts.get("crop.png"))

    def check(self) -> None:
        super().check()
        if not self.images:
            raise ValueError("the result holds no image")
        self.summary()  # every image measured on the same columns

    def summary(self) -> dict[str, float]:
        """Dataset means of every per-image measure and of the rate, and the set quantities: one rate point of an R-D curve."""
        n = len(self.images)
        out = {k: float(sum(getattr(row, k) for row in self.images) / n) for k in CODING}
        if all(row.payload_bpp is not None for row in self.images):  # unknown for results stored before it was kept
            out["payload_bpp"] = float(sum(row.payload_bpp for row in self.images) / n)  # type: ignore[misc]
        out.update({k: float(sum(row.values[k] for row in self.images) / n) for k in self.images[0].values})
        if "ms-ssim-rgb" in out:
            out["ms-ssim-db-rgb"] = ms_ssim_db(out["ms-ssim-rgb"])
        out.update({k: e.value for k, e in self.divergences.items()})
        if self.patch_scores is not None:
            out["fid"], out["kid"] = self.patch_scores.fid.value, self.patch_scores.kid.value
        return out

    def unreliable(self) -> dict[str, str]:
        """The set quantities too uncertain to draw or compare (FID and KID from too few patches), each with why."""
        if self.patch_scores is None:
            return {}
        return {k: e.details["unreliable"] for k, e in (("fid", self.patch_scores.fid), ("kid", self.patch_scores.kid)) if "unreliable" in e.details}

    def measured(self) -> list[str]:
        """The summary's measure columns, in the order they were measured (PSNR first; then FID, KID and the divergences)."""
        return list(dict.fromkeys([*self.columns, *(["fid", "kid"] if self.patch_scores else []), *self.divergences]))

    def higher_is_better(self) -> list[str]:
        """The summary's columns where higher is better (the rest, but the rate and times, are lower-is-better)."""
        higher = [k for k, c in self.columns.items() if c.higher_is_better]
        return higher + (["ms-ssim-db-rgb"] if "ms-ssim-rgb" in higher else [])


@dataclass(frozen=True)
class EvaluateTrial(Trial):
    """One codec setting (a component, e.g. ``jpeg,quality=30``) on one dataset."""

    codec: Component
    label: str  # the curve this setting is a point of (``jpeg``)
    dataset: Dataset
    distortions: tuple[Component, ...]
    features: Component | None
    patch_size: int = 256
    seed: int = 0
    requested_device: str = "auto"
    critics: tuple[Component, ...] = ()
    divergences: tuple[Component, ...] = ()
    divergence_patch: int = 64  # the divergences compare patches of this side
    bootstrap: int = 0  # resamples of the divergences' intervals

    kind = KIND
    optional_artifacts = ("crop.png",)

    @classmethod
    def result_type(cls) -> type[Result]:
        return EvaluateResult

    @property
    def device(self) -> str:
        return self.requested_device

    @property
    def measures(self) -> Measures:
        return Measures(self.distortions, self.critics, self.divergences, self.divergence_patch, self.bootstrap, psnr=True,
                        similarities=True, features=self.features, features_patch=self.patch_size)

    def validate(self, registry: Registry) -> None:
        """The codec's name and options, checked without building it (a hific setting would load its weights), and the decoding seed."""
        check_component(self.codec, "codec", registry)
        check_seed(self.seed)

    def check_ready(self, registry: Registry) -> None:
        """The codec built: evaluate codes with it as it is, so one that needs training first is refused."""
        codec = registry.create("codec", self.codec.name, **self.codec.options)
        if not codec.fitted:
            raise InputError(f"codec {str(self.codec)!r} needs training before it codes, and evaluate trains nothing; give a trained model "
                             "(a shipped one, or weights=PATH), or train it in a sweep (rdpkit sweep).")

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> EvaluateTrial:
        parse = Component.parse
        features = identity.get("features")
        return cls(Component(identity["codec"], dict(identity["options"])), identity["label"], Dataset.from_identity(identity["dataset"]),
                   tuple(parse(d) for d in identity["distortions"]), parse(features) if features else None, identity["patch_size"],
                   identity["seed"], critics=tuple(parse(c) for c in identity.get("critics", [])),
                   divergences=tuple(parse(d) for d in identity.get("divergences", [])),
                   divergence_patch=identity.get("divergence_patch", 64), bootstrap=identity.get("bootstrap", 0))

    def identity(self) -> dict[str, Any]:
        more = {"critics": [str(c) for c in self.critics]} if self.critics else {}  # absent when unused: earlier stores keep their keys
        if self.divergences:
            more.update(divergences=[str(c) for c in self.divergences], divergence_patch=self.divergence_patch, bootstrap=self.bootstrap)
        return {"codec": self.codec.name, "options": self.codec.options, "label": self.label, "dataset": self.dataset.identity(),
                "distortions": [str(d) for d in self.distortions], "features": str(self.features) if self.features else None,
                "patch_size": self.patch_size, "seed": self.seed, **more}

    def run(self, device: str, registry: Registry, progress: bool = False) -> EvaluateResult:
        from tqdm.auto import tqdm

        from ..data import load_image
        from ..report import image_png

        dev = torch.device(device)
        codec = registry.create("codec", self.codec.name, **self.codec.options)
        meter = self.measures.meter(registry, dev, seed=self.seed)
        rows, crop = [], None
        for image in tqdm(self.dataset.images, desc=str(self.codec), unit="image", disable=not progress or None, leave=False):
            x = load_image(image).to(dev)
            coded = round_trip(codec, x, seed=self.seed)
            name = image.rpartition("/")[2]
            values = meter.update(x, coded.x_hat, [name])
            h, w = x.shape[-2:]
            if crop is None:
                top, left = max(0, (h - CROP) // 2), max(0, (w - CROP) // 2)
                crop = image_png(coded.x_hat[:1, :, top : top + CROP, left : left + CROP])
            rows.append(ImageRow(name, h, w, coded.rate.bytes, coded.rate.bpp, coded.encode_seconds, coded.decode_seconds,
                                 {k: v[0] for k, v in values.items()}, coded.rate.payload_bits_per_image / (h * w)))
        measured = meter.compute()
        return EvaluateResult(rows, measured.patch_scores, str(dev), software_versions(), {"codec": codec.info.as_dict(), **measured.components},
                              measured.divergences, measured.columns, crop)
