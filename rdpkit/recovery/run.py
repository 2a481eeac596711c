"""One recovery run, or a batch of them for one distortion: `recover` and `recover_many`.

A *case* is a reference image and an initialisation: ``("builtin:astronaut", "noise")``.
The initialisation is an rdpkit.degrade spec applied to the reference (``noise`` replaces it
with white noise, ``jpeg:10``, ``blur:2``...) or the path of an image file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..data import load_image, save_png, to_numpy, to_tensor
from ..degrade import KINDS as DEGRADATIONS
from ..degrade import degrade
from ..errors import InputError
from ..interfaces import Distortion
from ..registry import Registry, get_registry
from ..spec import Info
from ..store import software_versions
from .optimise import Trajectory, optimise
from .profiles import DEFAULT_PROFILE, Profile
from .settings import DEFAULT_SIZE, MAX_PIXELS, Settings
from .verdict import Thresholds, Verdict, judge, near_identical_level

Case = tuple[str, str]  # (image source, initialisation)
IMAGE_FILES = ("reference.png", "initial.png", "final.png")


def require_differentiable(info: Info, registry: Registry | None = None) -> None:
    """Raise InputError, naming the usable distortions, unless `info` says gradients flow."""
    if info.differentiable:
        return
    usable = [i.name for i in (registry or get_registry()).infos("distortion") if i.differentiable]
    raise InputError(f"distortion {info.name!r} is not differentiable, so gradient descent cannot minimise it; "
                     f"the recovery test needs one of: {', '.join(usable) or 'none registered'}.")


def resolve_distortion(distortion: str | Distortion, registry: Registry | None = None) -> Distortion:
    """A differentiable Distortion by name (from `registry`, default the global one) or as given."""
    if isinstance(distortion, Distortion):
        if distortion.info is not None:
            require_differentiable(distortion.info, registry)
        return distortion
    registry = registry or get_registry()
    require_differentiable(registry.info("distortion", distortion), registry)
    return registry.create("distortion", distortion)


def distortion_name(d: Distortion) -> str:
    return d.info.name if d.info is not None else type(d).__name__.lower()


def initial_image(x: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    """The starting point y0 for reference `x`: a degradation of x, or an image file brought to x's size."""
    if Path(init).is_file():
        return load_image(init, size=(x.shape[-2], x.shape[-1])).to(device=x.device, dtype=x.dtype)
    if init.partition(":")[0] not in DEGRADATIONS:
        raise InputError(f"initialisation {init!r} is neither an existing image file nor a degradation; "
                         f"use noise, jpeg:QUALITY, blur:SIGMA (or {', '.join(k for k in DEGRADATIONS if k not in ('noise', 'jpeg', 'blur'))}) or a PNG/JPEG path.")
    return degrade(x, init, seed=seed)


def png_bytes(x: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_numpy(x)).save(buf, format="PNG")
    return buf.getvalue()


def png_tensor(data: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as im:
        return to_tensor(im)


@dataclass
class RecoveryResult:
    """A finished recovery run: the verdict, the numbers behind it, the trajectory and the three images (1×C×H×W, CPU)."""

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
    components: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    software: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def steps(self) -> int:
        return self.profile.steps

    def as_dict(self) -> dict[str, Any]:
        """Everything but the images, JSON-ready."""
        return {
            "verdict": self.verdict.label, "verdict_reason": self.verdict.reason,
            "psnr": self.psnr, "ssim": self.ssim, "distortion_value": self.distortion_value,
            "near_identical_level": self.near_identical_level, "steps": self.steps, "seconds": self.seconds,
            "batch": self.batch, "device": self.device, "distortion": self.distortion, "image": self.image,
            "init": self.init, "size": self.size, "seed": self.seed,
            "initial_psnr": self.trajectory.psnr[0], "initial_ssim": self.trajectory.ssim[0],
            "initial_distortion_value": self.trajectory.distortion[0],
            "profile": self.profile.as_dict(), "thresholds": self.thresholds.as_dict(),
            "trajectory": self.trajectory.as_dict(), "components": self.components, "software": self.software,
        }

    def artifacts(self) -> dict[str, bytes]:
        """The three images as PNG files."""
        return dict(zip(IMAGE_FILES, (png_bytes(t) for t in (self.reference, self.initial, self.final))))

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes], thresholds: Thresholds | None = None) -> RecoveryResult:
        """Rebuild a stored result (images as stored, 8-bit), re-judged under `thresholds` if given."""
        t = thresholds or Thresholds(**{**record["thresholds"], "near_identical": tuple(record["thresholds"]["near_identical"])})
        reference, initial, final = (png_tensor(artifacts[name]) for name in IMAGE_FILES)
        return cls(
            distortion=record["distortion"], image=record["image"], init=record["init"], size=record["size"], seed=record["seed"],
            profile=Profile(**record["profile"]), thresholds=t,
            verdict=judge(record["psnr"], record["ssim"], record["distortion_value"], record["near_identical_level"], t,
                          record["trajectory"]["dead_channels"][-1]),
            psnr=record["psnr"], ssim=record["ssim"], distortion_value=record["distortion_value"],
            near_identical_level=record["near_identical_level"], seconds=record["seconds"], batch=record["batch"],
            device=record["device"], trajectory=Trajectory(**record["trajectory"]),
            reference=reference, initial=initial, final=final, components=record["components"], software=record["software"],
        )

    def save(self, out: str | Path) -> Path:
        """Write reference.png, initial.png, final.png, curves.png and result.json into the folder `out`."""
        from .figures import curves_png

        out = Path(out)
        for name, t in zip(IMAGE_FILES, (self.reference, self.initial, self.final)):
            save_png(t, out / name)
        (out / "curves.png").write_bytes(curves_png([self]))
        (out / "result.json").write_text(json.dumps(self.as_dict(), indent=1, default=str))
        return out


def run_cases(d: Distortion, cases: Sequence[Case], settings: Settings, progress: bool = False) -> list[RecoveryResult]:
    """The recovery test of the (resolved, differentiable) distortion `d` on `cases`, batched (see `optimise`)."""
    if not cases:
        raise InputError("no cases given; pass at least one (image, initialisation) pair, e.g. ('builtin:astronaut', 'noise').")
    s = settings
    d = d.to(s.device)
    name = distortion_name(d)
    smallest = max(d.min_size, 11)  # 11: the SSIM window the trajectory is measured with
    if s.size < smallest:
        raise InputError(f"{name} needs images of at least {smallest}×{smallest} pixels but size is {s.size}; choose --size {smallest} or larger.")
    x = torch.cat([load_image(image, size=s.size) for image, _ in cases]).to(s.device)
    y0 = torch.cat([initial_image(x[i : i + 1], init, s.seed) for i, (_, init) in enumerate(cases)])
    run = optimise(d, x, y0, s.profile, stride=s.stride, max_pixels=s.max_pixels, progress=progress, desc=f"{name} ×{len(cases)}")
    levels = [float(near_identical_level(d, x[i : i + 1], s.thresholds.near_identical, s.seed)) for i in range(len(cases))]
    components = {"distortion": d.info.as_dict() if d.info is not None else {"name": name, "distribution": "unregistered"}}
    software = software_versions()
    results = []
    for i, (image, init) in enumerate(cases):
        traj = run.trajectories[i]
        p, q, v = traj.psnr[-1], traj.ssim[-1], traj.distortion[-1]
        results.append(RecoveryResult(
            distortion=name, image=image, init=init, size=s.size, seed=s.seed, profile=s.profile, thresholds=s.thresholds,
            verdict=judge(p, q, v, levels[i], s.thresholds, traj.dead_channels[-1]), psnr=p, ssim=q, distortion_value=v,
            near_identical_level=levels[i], seconds=run.seconds[i], batch=run.batch[i], device=str(s.device), trajectory=traj,
            reference=x[i : i + 1].cpu(), initial=y0[i : i + 1].cpu(), final=run.final[i : i + 1].cpu(),
            components=components, software=software,
        ))
    return results


def recover_many(
    distortion: str | Distortion,
    cases: Sequence[Case],
    *,
    size: int = DEFAULT_SIZE,
    profile: str | Profile = DEFAULT_PROFILE,
    steps: int | None = None,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    stride: int | None = None,
    device: str | None = None,
    max_pixels: int = MAX_PIXELS,
    registry: Registry | None = None,
    progress: bool = False,
) -> list[RecoveryResult]:
    """Run the recovery test of one distortion on several cases, batched.

    `distortion` is a registered name or a Distortion; `size` the side images are scaled and
    cropped to; `steps` overrides the profile's; `stride` is how often the trajectory is
    recorded (default: about 100 points); `device` defaults to CUDA when present.
    """
    settings = Settings.make(size, profile, steps, seed, thresholds, stride, device, max_pixels)
    return run_cases(resolve_distortion(distortion, registry), cases, settings, progress)


def recover(distortion: str | Distortion, image: str = "builtin:astronaut", init: str = "noise", **options: Any) -> RecoveryResult:
    """Run the recovery test once: y* = argmin_y D(x, y) from `init`; options as for `recover_many`.

    For example ``recover("ms-ssim", "builtin:astronaut", "jpeg:10", size=192).verdict.label``.
    """
    return recover_many(distortion, [(image, init)], **options)[0]
