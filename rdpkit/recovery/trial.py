"""A recovery run as a trial of the store: one distortion (with options) × one case × settings.

Trials of one distortion and settings form a group, so the runner hands their cases to one
batched optimisation (see rdpkit.recovery.optimise), on whatever executor it uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..data import Source
from ..degrade import short
from ..options import Component
from ..registry import Registry
from ..trial.base import Result, Trial, check_component
from .profiles import Profile
from .result import IMAGE_FILES, RecoveryResult
from .run import Case, require_differentiable, resolve_distortion, run_cases
from .settings import Settings
from .verdict import Thresholds

#: What `_source_id` appends to a file's source: the digest of its bytes.
DIGEST = "#sha256:"


def _source_id(source: str) -> str:
    """An image or initialisation as configured, plus a digest of the file's bytes when it is a file."""
    try:
        return Source.parse(source).identity()
    except Exception:
        return source


def _init_id(init: str) -> str:
    """An initialisation as trials are keyed: an image file with its digest, a degradation in its short form (`rdpkit.degrade.short`),
    so that ``jpeg,quality=10`` and ``jpeg:10``, which earlier stores hold, are one trial."""
    return _source_id(init) if Path(init).is_file() else short(init)


@dataclass(frozen=True)
class RecoveryTrial(Trial):
    """Build it with `RecoveryTrial.make`, which resolves the distortion's provenance and hashes image files."""

    distortion: Component
    qualified_name: str  # distribution:name, so that a name taken over later cannot change the trial
    version: str
    image: str
    init: str
    settings: Settings
    image_id: str
    init_id: str

    kind = "recovery"
    artifacts = IMAGE_FILES

    @classmethod
    def make(cls, distortion: str | Component, case: Case, settings: Settings, registry: Registry) -> RecoveryTrial:
        component = Component.parse(distortion, what="distortion")
        info = registry.info("distortion", component.name)
        require_differentiable(info, registry)
        image, init = case
        return cls(component, info.qualified_name, info.version, image, init, settings, _source_id(image), _init_id(init))

    @classmethod
    def result_type(cls) -> type[Result]:
        return RecoveryResult

    @classmethod
    def from_identity(cls, identity: Mapping[str, Any]) -> RecoveryTrial:
        """The trial a stored identity describes; its distortion is named by its qualified name, its images as configured."""
        profile = Profile(**identity["profile"])
        settings = Settings(size=identity["size"], profile=profile, seed=identity["seed"], stride=identity["stride"],
                            thresholds=Thresholds(near_identical=tuple(identity["near_identical"])))
        return cls(Component(identity["distortion"], dict(identity["options"])), identity["distortion"], identity["version"],
                   identity["image"].split(DIGEST)[0], identity["init"].split(DIGEST)[0], settings, identity["image"], identity["init"])

    def validate(self, registry: Registry) -> None:
        check_component(Component(self.qualified_name, self.distortion.options), "distortion", registry)

    def identity(self) -> dict[str, Any]:
        s = self.settings
        return {
            "distortion": self.qualified_name, "options": self.distortion.options, "version": self.version,
            "image": self.image_id, "init": self.init_id, "size": s.size, "seed": s.seed,
            "profile": s.profile.as_dict(), "stride": s.stride,  # type: ignore[union-attr]
            # The near-identical perturbations change a stored number; the other thresholds apply on read.
            "near_identical": list(s.thresholds.near_identical),
        }

    @property
    def device(self) -> str:
        return self.settings.device

    def group(self) -> str:
        return f"{self.qualified_name}|{self.distortion}|{self.settings}"

    def run(self, device: str, registry: Registry, progress: bool = False) -> RecoveryResult:
        return self.run_group([self], device, registry, progress)[0]  # type: ignore[return-value]

    @classmethod
    def run_group(cls, trials: Sequence[Trial], device: str, registry: Registry, progress: bool = False) -> list[Result]:
        first: RecoveryTrial = trials[0]  # type: ignore[assignment]
        d = resolve_distortion(Component(first.qualified_name, first.distortion.options), registry)
        settings = replace(first.settings, device=device)
        return run_cases(d, [(t.image, t.init) for t in trials], settings, label=str(first.distortion),  # type: ignore[attr-defined]
                         options=first.distortion.options, progress=progress)
