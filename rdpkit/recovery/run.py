"""One recovery run, or a batch of them for one distortion: `recover` and `recover_many`.

A *case* is a reference image and an initialisation: ``("builtin:astronaut", "noise")``.
The initialisation is an rdpkit.degrade spec applied to the reference (``noise`` replaces it
with white noise, ``jpeg,quality=10`` or ``jpeg:10``, ``blur,sigma=2``...) or the path of an
image file. The distortion is a registered name with options (``lpips-alex,pretrained=false``,
see rdpkit.options) or a Distortion object.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..data import load_image
from ..degrade import KINDS as DEGRADATIONS
from ..degrade import SPELLINGS, degrade
from ..degrade import kind as degradation_kind
from ..degrade import parse as parse_degradation
from ..errors import InputError, suggestion
from ..interfaces import Distortion
from ..options import Component
from ..registry import Registry, get_registry
from ..spec import Info, component_name
from ..trial.base import software_versions
from ..validation import resolve_device
from .optimise import optimise
from .result import RecoveryResult
from .settings import Settings
from .verdict import judge, near_identical_level

Case = tuple[str, str]  # (image source, initialisation)


def require_differentiable(info: Info, registry: Registry | None = None) -> None:
    """Raise InputError, naming the usable distortions, unless `info` says gradients flow."""
    if info.differentiable:
        return
    usable = [i.name for i in (registry or get_registry()).infos("distortion") if i.differentiable]
    raise InputError(f"distortion {info.name!r} is not differentiable, so gradient descent cannot minimise it; "
                     f"the recovery test needs one of: {', '.join(usable) or 'none registered'}.")


def resolve_distortion(distortion: str | Component | Distortion, registry: Registry | None = None) -> Distortion:
    """A differentiable Distortion: by name with options (from `registry`, default the global one), or as given."""
    if isinstance(distortion, Distortion):
        if distortion.info is not None:
            require_differentiable(distortion.info, registry)
        return distortion
    registry = registry or get_registry()
    component = Component.parse(distortion, what="distortion")
    require_differentiable(registry.info("distortion", component.name), registry)
    return component.create("distortion", registry)


def check_initialisation(init: str) -> None:
    """Raise InputError unless `init` is an existing image file or a well-formed degradation (before any work)."""
    if Path(init).is_file():
        return
    if degradation_kind(init) not in DEGRADATIONS:
        hint = suggestion(degradation_kind(init), DEGRADATIONS) or f"use {SPELLINGS} or a PNG/JPEG path."
        raise InputError(f"initialisation {init!r} is neither an existing image file nor a degradation; {hint}")
    parse_degradation(init)


def initial_image(x: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    """The starting point y0 for reference `x`: a degradation of x, or an image file brought to x's size."""
    check_initialisation(init)
    if Path(init).is_file():
        return load_image(init, size=(x.shape[-2], x.shape[-1])).to(device=x.device, dtype=x.dtype)
    return degrade(x, init, seed=seed)


def run_cases(d: Distortion, cases: Sequence[Case], settings: Settings, *, label: str | None = None,
              options: dict[str, Any] | None = None, progress: bool = False) -> list[RecoveryResult]:
    """The recovery test of the (resolved, differentiable) distortion `d` on `cases`, batched (see `optimise`).

    `label` is how results name the distortion (default: its registered name); `options` the options it was made with.
    """
    if not cases:
        raise InputError("no cases given; pass at least one (image, initialisation) pair, e.g. ('builtin:astronaut', 'noise').")
    s = settings
    device = resolve_device(s.device)
    d = d.to(device)
    name = label or component_name(d)
    smallest = max(d.min_size, 11)  # 11: the SSIM window the trajectory is measured with
    if s.size < smallest:
        raise InputError(f"{name} needs images of at least {smallest}×{smallest} pixels but size is {s.size}; choose --size {smallest} or larger.")
    x = torch.cat([load_image(image, size=s.size) for image, _ in cases]).to(device)
    y0 = torch.cat([initial_image(x[i : i + 1], init, s.seed) for i, (_, init) in enumerate(cases)])
    run = optimise(d, x, y0, s.profile, stride=s.stride, max_pixels=s.max_pixels, progress=progress, desc=f"{name} ×{len(cases)}")  # type: ignore[arg-type]
    levels = [float(near_identical_level(d, x[i : i + 1], s.thresholds.near_identical, s.seed)) for i in range(len(cases))]
    components = {"distortion": d.info.as_dict() if d.info is not None else {"name": name, "distribution": "unregistered"}}
    software = software_versions()
    results = []
    for i, (image, init) in enumerate(cases):
        traj = run.trajectories[i]
        p, q, v = traj.psnr[-1], traj.ssim[-1], traj.distortion[-1]
        results.append(RecoveryResult(
            distortion=name, image=image, init=init, size=s.size, seed=s.seed, profile=s.profile, thresholds=s.thresholds,  # type: ignore[arg-type]
            verdict=judge(p, q, v, levels[i], s.thresholds, traj.dead_channels[-1]), psnr=p, ssim=q, distortion_value=v,
            near_identical_level=levels[i], seconds=run.seconds[i], batch=run.batch[i], device=str(device), trajectory=traj,
            reference=x[i : i + 1].cpu(), initial=y0[i : i + 1].cpu(), final=run.final[i : i + 1].cpu(),
            options=dict(options or {}), components=components, software=software,
        ))
    return results


def recover_many(distortion: str | Component | Distortion, cases: Sequence[Case], settings: Settings | None = None, *,
                 registry: Registry | None = None, progress: bool = False, **overrides: Any) -> list[RecoveryResult]:
    """Run the recovery test of one distortion on several cases, batched, without a store.

    `distortion` is a registered name with options (``"lpips-alex,pretrained=false"``) or a
    Distortion; `settings` a `Settings`, or its fields as keywords (``size=128, steps=300``).
    """
    settings = make_settings(settings, overrides)
    component = None if isinstance(distortion, Distortion) else Component.parse(distortion, what="distortion")
    d = resolve_distortion(component or distortion, registry)  # type: ignore[arg-type]
    return run_cases(d, cases, settings, label=str(component) if component else None, options=component.options if component else None, progress=progress)


def make_settings(settings: Settings | None, fields: dict[str, Any]) -> Settings:
    """`settings`, or a Settings made of keyword `fields` (not both)."""
    if settings is not None:
        if fields:
            raise InputError(f"give either settings or its fields ({', '.join(sorted(fields))}) as keywords, not both.")
        return settings
    unknown = sorted(set(fields) - set(Settings.__dataclass_fields__))
    if unknown:
        raise InputError(f"the recovery test has no setting {unknown[0]!r}; the settings are {', '.join(Settings.__dataclass_fields__)}.")
    return Settings(**fields)


def recover(distortion: str | Component | Distortion, image: str = "builtin:astronaut", init: str = "noise", **options: Any) -> RecoveryResult:
    """Run the recovery test once: y* = argmin_y D(x, y) from `init`; options as for `recover_many`.

    For example ``recover("ms-ssim", "builtin:astronaut", "jpeg:10", size=192).verdict.label``.
    """
    return recover_many(distortion, [(image, init)], **options)[0]
