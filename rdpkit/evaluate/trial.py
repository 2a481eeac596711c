"""One codec setting on one dataset: the codec papers' evaluation, as a trial of the store.

Each image is coded at its own size (no resizing: the rate is that of the image a user has);
per image, the rate from the real bytes of the container (bits per pixel, bytes), PSNR over
RGB, every requested distortion, and the encode and decode time. Over the dataset: the means
as codec papers report them (PSNR as the mean of the per-image PSNRs, as CompressAI does), and
FID and KID between the original and the decoded images' 256×256 patches (rdpkit.patches),
on the features of a registered feature extractor, with n and what the features are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..anchors import ms_ssim_db
from ..codecs.measure import round_trip
from ..datasets import Dataset
from ..interfaces import Estimate, psnr
from ..options import Component
from ..registry import Registry
from ..trial.base import Result, Trial, software_versions

KIND = "evaluate"
#: KID on patches: random subsets of at most this many patches, as torch-fidelity computes it.
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
FID_BIAS = ("the Fréchet distance is biased upward by roughly (d² + 5d)/(2n) for n patches of d features, "
            "so compare FIDs only at equal n; KID is unbiased")


@dataclass(frozen=True)
class PatchScores:
    """FID and KID between original and decoded patches, on one feature space."""

    features: str  # the extractor as asked for
    feature_kind: str  # pretrained | self-trained | random-feature | hand-crafted
    patches: int
    fid: Estimate
    kid: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {"features": self.features, "feature_kind": self.feature_kind, "patches": self.patches,
                "fid": self.fid.as_dict(), "kid": self.kid.as_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PatchScores:
        return cls(d["features"], d["feature_kind"], d["patches"], Estimate.from_dict(d["fid"]), Estimate.from_dict(d["kid"]))


@dataclass(frozen=True)
class EvaluateResult(Result):
    """Per image and over the dataset (see the module docstring)."""

    images: list[dict[str, Any]]  # image, height, width, bytes, bpp, psnr-rgb, <metric>..., encoding_time, decoding_time
    patch_scores: PatchScores | None
    device: str
    software: dict[str, str] = field(default_factory=dict)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_record(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"images": self.images, "patch_scores": self.patch_scores.as_dict() if self.patch_scores else None,
                "device": self.device, "software": self.software, "components": self.components}, {}

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes]) -> EvaluateResult:
        scores = record.get("patch_scores")
        return cls(record["images"], PatchScores.from_dict(scores) if scores else None, record["device"],
                   record.get("software", {}), record.get("components", {}))

    def summary(self) -> dict[str, float]:
        """Dataset means of every per-image measure, and FID/KID: one rate point of an R-D curve."""
        numeric = [k for k, v in self.images[0].items() if isinstance(v, (int, float)) and k not in ("height", "width")]
        out = {k: float(sum(row[k] for row in self.images) / len(self.images)) for k in numeric}
        if "ms-ssim-rgb" in out:
            out["ms-ssim-db-rgb"] = ms_ssim_db(out["ms-ssim-rgb"])
        if self.patch_scores is not None:
            out["fid"], out["kid"] = self.patch_scores.fid.value, self.patch_scores.kid.value
        return out


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

    kind = KIND

    @classmethod
    def result_type(cls) -> type[Result]:
        return EvaluateResult

    @property
    def device(self) -> str:
        return self.requested_device

    def identity(self) -> dict[str, Any]:
        return {"codec": self.codec.name, "options": self.codec.options, "label": self.label, "dataset": self.dataset.identity(),
                "distortions": [str(d) for d in self.distortions], "features": str(self.features) if self.features else None,
                "patch_size": self.patch_size, "seed": self.seed}

    def run(self, device: str, registry: Registry, progress: bool = False) -> EvaluateResult:
        from tqdm.auto import tqdm

        from ..data import load_image
        from ..patches import patches

        dev = torch.device(device)
        codec = registry.create("codec", self.codec.name, **self.codec.options)
        metrics = {str(c): registry.create("distortion", c.name, **c.options).to(dev) for c in self.distortions}
        rows, originals, decoded = [], [], []
        for image in tqdm(self.dataset.images, desc=str(self.codec), unit="image", disable=not progress or None, leave=False):
            x = load_image(image).to(dev)
            coded = round_trip(codec, x, seed=self.seed)
            h, w = x.shape[-2:]
            row: dict[str, Any] = {"image": image.rpartition("/")[2], "height": h, "width": w, "bytes": coded.rate.bytes,
                                   "bpp": coded.rate.bpp, "psnr-rgb": min(float(psnr(x, coded.x_hat)[0]), 100.0)}
            with torch.no_grad():
                row.update(_column(name, float(metric(x, coded.x_hat)[0])) for name, metric in metrics.items())
            row.update(encoding_time=coded.encode_seconds, decoding_time=coded.decode_seconds)
            rows.append(row)
            if self.features is not None:
                originals.append(patches(x.cpu(), self.patch_size))
                decoded.append(patches(coded.x_hat.cpu(), self.patch_size))
        components = {"codec": codec.info.as_dict(), **{f"distortion:{k}": m.info.as_dict() for k, m in metrics.items()}}
        scores = None
        if self.features is not None:
            scores, info = self._patch_scores(torch.cat(originals), torch.cat(decoded), dev, registry)
            components[f"features:{self.features}"] = info
        return EvaluateResult(rows, scores, str(dev), software_versions(), components)

    def _patch_scores(self, real: torch.Tensor, fake: torch.Tensor, dev: torch.device, registry: Registry) -> tuple[PatchScores, dict[str, Any]]:
        """FID and KID on the features of original and decoded patches (features computed once for both)."""
        assert self.features is not None
        extractor = registry.create("features", self.features.name, **self.features.options).to(dev)
        with torch.no_grad():
            fr = torch.cat([extractor.features(real[i : i + 32].to(dev)) for i in range(0, len(real), 32)]).double().cpu()
            ff = torch.cat([extractor.features(fake[i : i + 32].to(dev)) for i in range(0, len(fake), 32)]).double().cpu()
        fid = registry.create("divergence", "frechet").estimate(fr, ff)
        kid = registry.create("divergence", "kid", subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE).estimate(fr, ff)
        fid = Estimate(fid.value, fid.stderr, fid.n, f"FID on {extractor.feature_kind} features ({self.features})", fid.ci, {**fid.details, "bias": FID_BIAS})
        kid = Estimate(kid.value, kid.stderr, kid.n, f"KID on {extractor.feature_kind} features ({self.features})", kid.ci, kid.details)
        return PatchScores(str(self.features), extractor.feature_kind, len(real), fid, kid), extractor.info.as_dict()


def _column(component: str, value: float) -> tuple[str, float]:
    """Where a distortion's value goes: rdpkit keeps 1 − MS-SSIM, codec papers report MS-SSIM itself (CompressAI's ms-ssim-rgb)."""
    bare = component.split(",", 1)[0].rpartition(":")[2]
    return ("ms-ssim-rgb", 1 - value) if bare == "ms-ssim" else (component, value)
