"""A finished recovery run, and the one place that says what the store holds of it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..report import image_png, png_tensor
from ..trial.base import Result
from .optimise import Trajectory
from .profiles import Profile
from .verdict import Thresholds, Verdict, judge

#: The images each run stores, as PNG artifacts.
IMAGE_FILES = ("reference.png", "initial.png", "final.png")


@dataclass
class RecoveryResult(Result):
    """The verdict, the numbers behind it, the trajectory and the three images (1×C×H×W, CPU).

    `distortion` is the component as asked for (``lpips-alex,pretrained=false``); `options`
    its options; `components` the registry records of what ran (distribution, version).
    """

    distortion: str
    image: str
    init: str
    size: int
    seed: int
    profile: Profile
    thresholds: Thresholds
    verdict: Verdict
    psnr: float
    ssim: float
    distortion_value: float
    near_identical_level: float
    seconds: float
    batch: int
    device: str
    trajectory: Trajectory
    reference: torch.Tensor = field(repr=False)
    initial: torch.Tensor = field(repr=False)
    final: torch.Tensor = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    components: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    software: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def steps(self) -> int:
        return self.profile.steps

    def rejudged(self, thresholds: Thresholds) -> RecoveryResult:
        """The same run judged under other thresholds (the verdict is a pure function of stored numbers)."""
        verdict = judge(self.psnr, self.ssim, self.distortion_value, self.near_identical_level, thresholds, self.trajectory.dead_channels[-1])
        return replace(self, thresholds=thresholds, verdict=verdict)

    def as_dict(self) -> dict[str, Any]:
        """Everything but the images, JSON-ready: the stored record."""
        return {
            "verdict": self.verdict.label, "verdict_reason": self.verdict.reason,
            "psnr": self.psnr, "ssim": self.ssim, "distortion_value": self.distortion_value,
            "near_identical_level": self.near_identical_level, "steps": self.steps, "seconds": self.seconds,
            "batch": self.batch, "device": self.device, "distortion": self.distortion, "options": self.options,
            "image": self.image, "init": self.init, "size": self.size, "seed": self.seed,
            "initial_psnr": self.trajectory.psnr[0], "initial_ssim": self.trajectory.ssim[0],
            "initial_distortion_value": self.trajectory.distortion[0],
            "profile": self.profile.as_dict(), "thresholds": self.thresholds.as_dict(),
            "trajectory": self.trajectory.as_dict(), "components": self.components, "software": self.software,
        }

    def check(self) -> None:
        super().check()
        self.as_dict()  # the first point of each trajectory, which the report and its CSV show

    def to_record(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return self.as_dict(), dict(zip(IMAGE_FILES, (image_png(t) for t in (self.reference, self.initial, self.final))))

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes]) -> RecoveryResult:
        """A stored run (images as stored, 8-bit), judged under the thresholds it was run with."""
        t = Thresholds(**{**record["thresholds"], "near_identical": tuple(record["thresholds"]["near_identical"])})
        reference, initial, final = (png_tensor(artifacts[name]) for name in IMAGE_FILES)
        trajectory = Trajectory(**record["trajectory"])
        return cls(
            distortion=record["distortion"], image=record["image"], init=record["init"], size=record["size"], seed=record["seed"],
            profile=Profile(**record["profile"]), thresholds=t,
            verdict=judge(record["psnr"], record["ssim"], record["distortion_value"], record["near_identical_level"], t, trajectory.dead_channels[-1]),
            psnr=record["psnr"], ssim=record["ssim"], distortion_value=record["distortion_value"],
            near_identical_level=record["near_identical_level"], seconds=record["seconds"], batch=record["batch"],
            device=record["device"], trajectory=trajectory, reference=reference, initial=initial, final=final,
            options=record.get("options", {}), components=record["components"], software=record["software"],
        )
