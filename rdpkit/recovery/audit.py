"""`rdpkit audit`: the recovery test of many distortions × images × initialisations, through the result store.

Each (distortion, image, initialisation, settings) is one `RecoveryTrial`, run by the trial
layer's driver on the local pool, on Ray or in this process, under its one policy: a
configuration already done is loaded, not re-run (unless `force`, which resets it), an audit
that was interrupted resumes with the trials it had not finished, and failed trials are run
again. The verdict is a pure function of stored
numbers, so stored runs are re-judged under the thresholds asked for now; the near-identical
perturbations change a stored number and are part of the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import Source
from ..errors import InputError, RdpkitError, UnknownNameError, suggestion
from ..options import Component
from ..registry import Registry, get_registry
from ..report import write_csv
from ..store import Store
from ..trial import drive
from .profiles import PROFILES
from .result import RecoveryResult
from .run import check_initialisation, make_settings
from .settings import Settings
from .trial import RecoveryTrial

DEFAULT_IMAGES = ("builtin:astronaut", "builtin:coffee")
DEFAULT_INITS = ("noise", "jpeg:10")
DEFAULT_STORE = Path("rdpkit-audit") / "audit.sqlite"
#: Columns of `AuditResult.rows()`, the CSV and the report's table.
COLUMNS = ("distortion", "image", "init", "verdict", "psnr", "ssim", "distortion_value", "near_identical_level",
           "initial_psnr", "steps", "seconds", "batch", "profile", "size", "seed", "distribution", "version", "verdict_reason")


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
        return write_csv(path, COLUMNS, self.rows(), protect=[self.store])

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": str(self.store), "ran": self.ran, "reused": self.reused,
            "profile": self.settings.profile.as_dict(), "thresholds": self.settings.thresholds.as_dict(),  # type: ignore[union-attr]
            "size": self.settings.size, "seed": self.settings.seed, "problems": self.problems,
            "results": [r.as_dict() for r in self.results],
        }


def select_distortions(distortions: Sequence[str | Component] | None, distributions: Sequence[str] | None, registry: Registry) -> list[Component]:
    """The distortions to audit: those named (with their options), or every differentiable one (of `distributions`)."""
    if distortions:
        return [Component.parse(d, what="distortion") for d in distortions]
    usable = [i for i in registry.infos("distortion") if i.differentiable]
    if distributions:
        known = sorted({i.distribution for i in usable})
        for dist in distributions:
            if dist not in known:
                raise InputError(f"no differentiable distortion comes from distribution {dist!r}; "
                                 + (suggestion(dist, known) or f"the distributions are {', '.join(known)}"))
        usable = [i for i in usable if i.distribution in distributions]
    return [Component(n) for n in registry.names("distortion") if any(n in (i.name, i.qualified_name) for i in usable)]


def audit(
    distortions: Sequence[str | Component] | None = None,
    images: Sequence[str] = DEFAULT_IMAGES,
    inits: Sequence[str] = DEFAULT_INITS,
    settings: Settings | None = None,
    *,
    distributions: Sequence[str] | None = None,
    store: str | Path = DEFAULT_STORE,
    force: bool = False,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    registry: Registry | None = None,
    progress: bool = True,
    **fields: Any,
) -> AuditResult:
    """Run the recovery test of `distortions` × `images` × `inits`.

    Images are image sources (``builtin:astronaut``, ``builtin:astronaut,coffee``, a folder, a
    file): every image they name is a case with every initialisation. Distortions are names
    with options (``"lpips-alex,pretrained=false"``); without any, every
    registered differentiable distortion is audited, or those of the given `distributions`
    (``["rdpkit"]``: the built-ins). A distortion that cannot run (weights missing, plugin
    broken) is reported in `AuditResult.problems` and the others go on. `settings` is a
    `Settings` or its fields as keywords (``size=64, steps=200``); `executor`, `workers` and
    `address` choose where trials run (see `rdpkit.trial.run_trials`).
    """
    registry = registry or get_registry()
    settings = make_settings(settings, fields)
    components = select_distortions(distortions, distributions, registry)
    if not images or not inits:
        raise InputError("an audit needs at least one image and one initialisation, e.g. builtin:astronaut and noise.")
    for init in inits:  # a bad one is its own sentence, before any work, never taken for a distortion's problem
        check_initialisation(init)
    references = [ref for source in images for ref in Source.parse(source).references()]  # a folder gives each of its images
    cases = [(image, init) for image in references for init in inits]
    result = AuditResult([], settings, Path(store))
    trials: dict[str, list[RecoveryTrial]] = {}
    for c in components:
        try:
            trials[str(c)] = [RecoveryTrial.make(c, case, settings, registry) for case in cases]
        except (InputError, UnknownNameError):
            if distortions:  # a distortion the user named must exist and be differentiable
                raise
        except RdpkitError as exc:
            result.problems[str(c)] = str(exc)
    if not trials:  # nothing can run: the problems say why, and no empty store is left behind
        return result
    driven = drive([t for ts in trials.values() for t in ts], store, executor=executor, workers=workers, address=address, force=force,
                   progress=progress, desc="recovery audit", registry=registry)
    for name, ts in trials.items():
        failed = [f for f in map(driven.failure, ts) if f is not None]
        if failed:
            result.problems[name] = failed[0]
        found = [r for r in map(driven.result, ts) if r is not None]
        result.results.extend(r.rejudged(settings.thresholds) for r in found)  # type: ignore[attr-defined]
    result.ran = driven.summary.ran
    result.reused = len(result.results) - driven.summary.ran
    with Store(store) as db:
        result.other_profile = _other_profile(db, trials, settings, registry)
    return result


def _other_profile(db: Store, trials: dict[str, list[RecoveryTrial]], settings: Settings, registry: Registry) -> dict[str, dict[tuple[str, str, str], str]]:
    """Verdicts stored for the same cases under the other profiles, run with their own steps and stride."""
    out: dict[str, dict[tuple[str, str, str], str]] = {}
    for other in PROFILES.values():
        if other == settings.profile:
            continue
        alt = settings.with_profile(other)
        for ts in trials.values():
            for t in ts:
                r = RecoveryTrial.make(t.distortion, (t.image, t.init), alt, registry).load(db)
                if r is not None:
                    out.setdefault(other.name, {})[(r.distortion, t.image, t.init)] = r.rejudged(settings.thresholds).verdict.label  # type: ignore[union-attr]
    return out


def from_store(db: Store) -> AuditResult:
    """Every finished recovery run a store holds, as an audit (settings described by the first run's)."""
    results = [r for _, _, r in RecoveryTrial.stored(db) if r is not None]
    if not results:
        raise InputError(f"{str(db.path)!r} holds no finished recovery run; run `rdpkit audit --store {db.path}` first.")
    first: RecoveryResult = results[0]  # type: ignore[assignment]
    settings = Settings(size=first.size, profile=first.profile, seed=first.seed, thresholds=first.thresholds, device="cpu")
    return AuditResult(results, settings, Path(db.path), reused=len(results))  # type: ignore[arg-type]
