"""`rdpkit audit`: the recovery test of many distortions × images × initialisations, through the result store.

Each (distortion, image, initialisation, settings) is one trial of the shared store
(rdpkit.store): a configuration already done is loaded, not re-run (unless `force`), and an
audit that was interrupted resumes with the trials it had not finished. The verdict is a pure
function of stored numbers, so stored runs are re-judged under the thresholds asked for now;
the near-identical perturbations change a stored number and are part of the configuration.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, RdpkitError, suggestion
from ..registry import Registry, get_registry
from ..spec import Info
from ..store import Store, config_key
from .profiles import DEFAULT_PROFILE, PROFILES, Profile
from .run import (
    IMAGE_FILES,
    Case,
    RecoveryResult,
    require_differentiable,
    resolve_distortion,
    run_cases,
)
from .settings import DEFAULT_SIZE, MAX_PIXELS, Settings
from .verdict import Thresholds

DEFAULT_IMAGES = ("builtin:astronaut", "builtin:coffee")
DEFAULT_INITS = ("noise", "jpeg:10")
DEFAULT_STORE = Path("rdpkit-audit") / "audit.sqlite"
TRIAL_KIND = "recovery"
#: Columns of `AuditResult.rows()`, the CSV and the report's table.
COLUMNS = ("distortion", "image", "init", "verdict", "psnr", "ssim", "distortion_value", "near_identical_level",
           "initial_psnr", "steps", "seconds", "batch", "profile", "size", "seed", "distribution", "version", "verdict_reason")


def _source_id(source: str) -> str:
    """A source as configured, plus a digest of the file's bytes when it is a file (a changed file is a new trial)."""
    path = Path(source)
    if path.is_file():
        return f"{source}#sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    return source


def trial_config(info: Info, case: Case, settings: Settings) -> dict[str, Any]:
    """What identifies a trial in the store (thresholds other than the near-identical set are applied on read)."""
    image, init = case
    return {
        "test": TRIAL_KIND, "distortion": info.qualified_name, "version": info.version,
        "image": _source_id(image), "init": _source_id(init), "size": settings.size, "seed": settings.seed,
        "profile": settings.profile.as_dict(), "stride": settings.stride,
        "near_identical": list(settings.thresholds.near_identical),
    }


@dataclass
class AuditResult:
    """The results of an audit, how many trials ran now, and why some distortions have none."""

    results: list[RecoveryResult]
    settings: Settings
    store: Path
    ran: int = 0
    reused: int = 0
    problems: dict[str, str] = field(default_factory=dict)
    #: Verdicts the store holds for the same cases under the *other* profile: (distortion, image, init) → label.
    other_profile: dict[str, dict[tuple[str, str, str], str]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for r in self.results:
            d = r.as_dict()
            info = r.components.get("distortion", {})
            d.update(profile=r.profile.name, distribution=info.get("distribution", ""), version=info.get("version", ""))
            out.append({c: d[c] for c in COLUMNS})
        return out

    def to_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(COLUMNS))

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows())
        return path

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": str(self.store), "ran": self.ran, "reused": self.reused,
            "profile": self.settings.profile.as_dict(), "thresholds": self.settings.thresholds.as_dict(),
            "size": self.settings.size, "seed": self.settings.seed, "problems": self.problems,
            "results": [r.as_dict() for r in self.results],
        }


def _load(store: Store, key: str, thresholds: Thresholds) -> RecoveryResult | None:
    trial = store.get(key)
    if trial is None or trial.status != "done" or trial.result is None:
        return None
    artifacts = {name: store.artifact(key, name) for name in IMAGE_FILES}
    if any(v is None for v in artifacts.values()):
        return None
    return RecoveryResult.from_record(trial.result, artifacts, thresholds)  # type: ignore[arg-type]


def run_stored(store: Store, name: str, cases: Sequence[Case], settings: Settings, *, force: bool = False,
               registry: Registry | None = None, progress: bool = False) -> tuple[list[RecoveryResult], int]:
    """The results of distortion `name` on `cases`, running (batched) only the trials the store lacks.

    Returns the results in the order of `cases` (a trial running in another process is left
    out) and how many trials ran now. A failure is recorded in the store and raised.
    """
    registry = registry or get_registry()
    info = registry.info("distortion", name)
    configs = {case: trial_config(info, case, settings) for case in cases}
    keys = {case: config_key(cfg) for case, cfg in configs.items()}
    todo = []
    for case in cases:
        if force and store.status(keys[case]) == "done":
            store.fail(keys[case], "superseded: run again with force")
        if store.claim(keys[case], TRIAL_KIND, configs[case], retry_failed=True):
            todo.append(case)
    if todo:
        try:
            fresh = run_cases(resolve_distortion(name, registry), todo, settings, progress)
        except Exception as exc:
            for case in todo:
                store.fail(keys[case], f"{type(exc).__name__}: {exc}")
            raise
        for case, r in zip(todo, fresh):
            store.finish(keys[case], r.as_dict(), r.artifacts())
    loaded = [_load(store, keys[case], settings.thresholds) for case in cases]
    return [r for r in loaded if r is not None], len(todo)


def _other_profile(store: Store, infos: list[Info], cases: Sequence[Case], settings: Settings) -> dict[str, dict[tuple[str, str, str], str]]:
    """Verdicts stored for the same cases under the other profiles, run with their own steps and stride."""
    out: dict[str, dict[tuple[str, str, str], str]] = {}
    for other in PROFILES.values():
        if other == settings.profile:
            continue
        alt = Settings.make(settings.size, other, None, settings.seed, settings.thresholds, None, settings.device, settings.max_pixels)
        for info in infos:
            for case in cases:
                r = _load(store, config_key(trial_config(info, case, alt)), settings.thresholds)
                if r is not None:
                    out.setdefault(other.name, {})[(info.name, *case)] = r.verdict.label
    return out


def audit(
    distortions: Sequence[str] | None = None,
    images: Sequence[str] = DEFAULT_IMAGES,
    inits: Sequence[str] = DEFAULT_INITS,
    *,
    distributions: Sequence[str] | None = None,
    size: int = DEFAULT_SIZE,
    profile: str | Profile = DEFAULT_PROFILE,
    steps: int | None = None,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    stride: int | None = None,
    device: str | None = None,
    max_pixels: int = MAX_PIXELS,
    store: str | Path = DEFAULT_STORE,
    force: bool = False,
    registry: Registry | None = None,
    progress: bool = True,
) -> AuditResult:
    """Run the recovery test of `distortions` × `images` × `inits`.

    Without `distortions`, every registered differentiable distortion is audited, or those of
    the given `distributions` (``["rdpkit"]``: the built-ins). A distortion that cannot run
    (weights missing, plugin broken) is reported in `AuditResult.problems` and the others go
    on. Explicitly named distortions must exist and be differentiable.
    """
    registry = registry or get_registry()
    settings = Settings.make(size, profile, steps, seed, thresholds, stride, device, max_pixels)
    if distortions:
        names = list(distortions)
        for n in names:
            require_differentiable(registry.info("distortion", n), registry)
    else:
        usable = [i for i in registry.infos("distortion") if i.differentiable]
        if distributions:
            known = sorted({i.distribution for i in usable})
            for dist in distributions:
                if dist not in known:
                    raise InputError(f"no differentiable distortion comes from distribution {dist!r}; "
                                     + (suggestion(dist, known) or f"the distributions are {', '.join(known)}"))
            usable = [i for i in usable if i.distribution in distributions]
        names = [n for n in registry.names("distortion") if any(n in (i.name, i.qualified_name) for i in usable)]
    infos = [registry.info("distortion", n) for n in names]
    if not images or not inits:
        raise InputError("an audit needs at least one image and one initialisation, e.g. builtin:astronaut and noise.")
    cases = [(image, init) for image in images for init in inits]
    result = AuditResult([], settings, Path(store))
    with Store(store) as db:
        for name in names:
            try:
                found, ran = run_stored(db, name, cases, settings, force=force, registry=registry, progress=progress)
            except Exception as exc:  # noqa: BLE001  (a broken or unavailable plugin must not stop the audit)
                result.problems[name] = str(exc) if isinstance(exc, RdpkitError) else f"{type(exc).__name__}: {exc}"
                continue
            result.results.extend(found)
            result.ran += ran
            result.reused += len(found) - ran
        result.other_profile = _other_profile(db, infos, cases, settings)
    return result
