"""What every harness's trials and results are: frozen, picklable descriptions and typed records.

A harness defines one `Trial` subclass (a frozen dataclass) and one `Result` subclass:

- ``Trial.identity()`` is the JSON-serialisable dict the store key hashes: everything that
  decides the outcome, nothing that does not (the device, how many images run at once);
- ``Trial.run(device, registry, progress)`` computes its `Result`; ``Trial.run_group`` may run
  several trials of the same `group()` together (the recovery test batches the cases of one
  distortion into one optimisation);
- ``Result.to_record()`` gives the stored JSON record and its binary artifacts (PNG files),
  and ``Result.from_record`` reads them back: the one place that says what a stored result holds;
- ``Trial.from_identity`` rebuilds a trial from its stored identity, so that ``Trial.stored``
  reads any store's trials of a kind back with their results;
- ``Trial.validate(registry)`` refuses bad input cheaply, before anything runs or is written.

The runner (rdpkit.trial.runner) handles claims, executors and resume; the driver
(rdpkit.trial.driver) is what harnesses call: validate, run, read every result back.
"""

from __future__ import annotations

import platform
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..errors import InputError
from ..store import Store, StoredTrial, config_key
from ..validation import check_fields

if TYPE_CHECKING:
    from ..options import Component
    from ..registry import Registry
    from ..spec import Info

R = TypeVar("R", bound="Result")
Record = dict[str, Any]
Artifacts = dict[str, bytes]


def software_versions(distributions: Sequence[str] = ("rdpkit", "torch", "numpy", "scipy", "scikit-image")) -> dict[str, str]:
    """Python's and the platform's versions and those of the installed `distributions`: what results depend on, recorded
    with every trial (and, with a plugin's own distributions, with every model a plugin trains)."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in distributions:
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


class Result(ABC):
    """A finished trial's typed record."""

    @abstractmethod
    def to_record(self) -> tuple[Record, Artifacts]:
        """The JSON-serialisable record to store, and the named binary artifacts beside it."""

    @classmethod
    @abstractmethod
    def from_record(cls: type[R], record: Record, artifacts: Artifacts) -> R:
        """The result a stored record (and its artifacts) describe."""

    def check(self) -> None:
        """Raise TypeError, KeyError or ValueError if this result, read back from a record, is not what the reports compute
        with: by default every field of its annotated type; a subclass adds what its reports need beyond types."""
        check_fields(self)


class Trial(ABC):
    """One unit of work of a harness: frozen, picklable, identified by a hash of `identity()`."""

    #: The store's `kind` column for this harness.
    kind: ClassVar[str]
    #: The artifacts `Result.from_record` needs (the rest are loaded on demand).
    artifacts: ClassVar[tuple[str, ...]] = ()
    #: Artifacts `Result.from_record` takes when the store holds them (results written before them lack them).
    optional_artifacts: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def identity(self) -> Record:
        """Everything that decides the result, JSON-serialisable; the store key hashes it."""

    @property
    def key(self) -> str:
        return config_key(self.identity())

    @property
    def device(self) -> str:
        """Where the trial asks to run: ``auto`` (the executor picks), ``cpu``, ``cuda[:N]``."""
        return "auto"

    def group(self) -> str:
        """Trials of one group may run together in one task (see `run_group`); by default each runs alone."""
        return self.key

    @abstractmethod
    def run(self, device: str, registry: Registry, progress: bool = False) -> Result:
        """Compute the result on `device` (a concrete device, never ``auto``)."""

    @classmethod
    def run_group(cls, trials: Sequence[Trial], device: str, registry: Registry, progress: bool = False) -> list[Result]:
        """The results of trials that share a `group()`, in order; the default runs them one by one."""
        return [t.run(device, registry, progress) for t in trials]

    @classmethod
    def result_type(cls) -> type[Result]:
        raise NotImplementedError

    @classmethod
    def from_identity(cls, identity: Record) -> Trial:
        """The trial a stored identity describes: `identity()` read back, so that its key is the stored one."""
        raise NotImplementedError(f"{cls.__name__} cannot be rebuilt from a stored identity; it must define from_identity.")

    def validate(self, registry: Registry) -> None:
        """Refuse, in one sentence (InputError), what would make `run` fail for a reason the user can fix.

        Called in the parent process before anything runs or is written; it must stay cheap: check
        names and options (`check_component`), never build a component that loads weights. By
        default nothing is checked.
        """

    def check_ready(self, registry: Registry) -> None:
        """Refuse, in one sentence (InputError), what `validate` cannot see without building a component (a codec that
        needs training where the trial trains none, ...). The driver calls it in the parent process for every trial
        about to run, after `validate` and before any trial runs; it may build components. By default nothing is checked.
        """

    @classmethod
    def stored(cls, store: Store) -> list[tuple[StoredTrial, Trial, Result | None]]:
        """Every trial of this kind that `store` holds: its row, the trial, and its result when finished."""
        out = []
        for row in store.trials(kind=cls.kind):
            with readable(store, row):
                trial = cls.from_identity(row.config)
                check_fields(trial)
                out.append((row, trial, cls.result_from_row(store, row)))
        return out

    def load(self, store: Store) -> Result | None:
        """This trial's finished result from `store`, or None."""
        row = store.get(self.key)
        if row is None:
            return None
        with readable(store, row):
            return self.result_from_row(store, row)

    @classmethod
    def result_from_row(cls, store: Store, row: StoredTrial) -> Result | None:
        """The result a stored row holds, or None when it is not finished."""
        if row.status != "done" or row.result is None:
            return None
        artifacts = {name: store.artifact(row.key, name) for name in cls.artifacts}
        if any(v is None for v in artifacts.values()):
            return None
        optional = {name: store.artifact(row.key, name) for name in cls.optional_artifacts}
        artifacts.update({name: data for name, data in optional.items() if data is not None})
        result = cls.result_type().from_record(row.result, artifacts)  # type: ignore[arg-type]
        result.check()
        return result


#: What a stored row of valid JSON but the wrong shape raises while a trial or result type reads it.
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError, OverflowError)


@contextmanager
def readable(store: Store, row: StoredTrial) -> Iterator[None]:
    """Refuse a row its trial or result type cannot read (valid JSON of another shape) in one sentence, as the store
    refuses a damaged file (rdpkit.store), instead of letting a KeyError or TypeError out of a report."""
    try:
        yield
    except InputError:
        raise
    except SHAPE_ERRORS as exc:
        raise InputError(f"the result store {str(store.path)!r} holds the {row.kind} trial {row.key}, which this rdpkit cannot read "
                         f"({type(exc).__name__}: {str(exc)[:160]}); run that trial again (--force), or restore the store from a copy.") from None


def check_component(component: Component, kind: str, registry: Registry) -> Info:
    """The registry's record of `component`, its name and options checked without building it (no weights load)."""
    info = registry.info(kind, component.name)
    registry.check_options(info, registry.factory(info), dict(component.options))
    return info
