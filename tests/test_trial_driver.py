"""The one harness driver: validation before anything is written, results and failures read back, one policy for every harness."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import rdpkit
from rdpkit.codecs.scalar import ScalarQuantizer
from rdpkit.distortions import MSE
from rdpkit.recovery.audit import audit
from rdpkit.recovery.trial import RecoveryTrial
from rdpkit.store import Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.runner import run_sweep
from rdpkit.sweep.trial import SweepTrial
from rdpkit.testing import fresh_registry
from rdpkit.trial import Result, Trial, drive

DATA = Path(__file__).parent / "data"
#: Values of `Echo` trials that fail, and every value run, in order (trials run inline, in this process).
BROKEN: set[int] = set()
RUNS: list[int] = []
#: Values of `Echo` trials that only a built component could refuse (`check_ready`), and every value checked so.
UNREADY: set[int] = set()
CHECKED: list[int] = []


@dataclass(frozen=True)
class Doubled(Result):
    value: int

    def to_record(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"value": self.value}, {}

    @classmethod
    def from_record(cls, record: dict[str, Any], artifacts: dict[str, bytes]) -> Doubled:
        return cls(record["value"])


@dataclass(frozen=True)
class Echo(Trial):
    value: int

    kind = "echo"

    def identity(self) -> dict[str, Any]:
        return {"value": self.value}

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> Echo:
        return cls(identity["value"])

    @classmethod
    def result_type(cls) -> type[Result]:
        return Doubled

    def validate(self, registry: rdpkit.Registry) -> None:
        if self.value < 0:
            raise rdpkit.InputError(f"value must be at least 0, got {self.value}.")

    def check_ready(self, registry: rdpkit.Registry) -> None:
        CHECKED.append(self.value)
        if self.value in UNREADY:
            raise rdpkit.InputError(f"value {self.value} needs training first.")

    def run(self, device: str, registry: rdpkit.Registry, progress: bool = False) -> Doubled:
        RUNS.append(self.value)
        if self.value in BROKEN:
            raise RuntimeError(f"value {self.value} is broken")
        return Doubled(2 * self.value)


@pytest.fixture(autouse=True)
def clean() -> None:
    BROKEN.clear()
    RUNS.clear()
    UNREADY.clear()
    CHECKED.clear()
    FLAKY.clear()


def _drive(trials: list[Echo], store: Path, **kw: Any):
    return drive(trials, store, executor="inline", progress=False, **kw)


def test_results_and_failures_are_read_back_through_the_trials_types(tmp_path):
    BROKEN.add(2)
    driven = _drive([Echo(1), Echo(2), Echo(1)], tmp_path / "s.sqlite")
    assert driven.trials == [Echo(1), Echo(2)] and RUNS == [1, 2], "a trial asked for twice runs once"
    assert driven.result(Echo(1)) == Doubled(2) and driven.result(Echo(2)) is None
    assert driven.failure(Echo(2)) == "RuntimeError: value 2 is broken", "one line; the traceback stays in the store"
    assert driven.finished() == [(Echo(1), Doubled(2))]
    assert (driven.summary.ran, driven.summary.failed) == (1, 1)
    with Store(tmp_path / "s.sqlite") as db:
        assert "Traceback" in db.get(Echo(2).key).error
        assert [(t, r) for _, t, r in Echo.stored(db)] == [(Echo(1), Doubled(2)), (Echo(2), None)]


def test_a_rerun_continues_retries_what_failed_and_force_runs_everything_again(tmp_path):
    store = tmp_path / "s.sqlite"
    BROKEN.add(2)
    _drive([Echo(1), Echo(2)], store)
    BROKEN.clear()
    RUNS.clear()
    again = _drive([Echo(1), Echo(2), Echo(3)], store)
    assert RUNS == [2, 3] and (again.summary.already_done, again.summary.ran) == (1, 2)
    assert again.failures == {} and again.result(Echo(2)) == Doubled(4)
    RUNS.clear()
    forced = _drive([Echo(1), Echo(3)], store, force=True)
    assert RUNS == [1, 3] and (forced.summary.already_done, forced.summary.ran) == (0, 2)
    with Store(store) as db:
        assert db.status(Echo(2).key) == "done", "force forgets only the trials asked for"


def test_a_stored_result_that_does_not_read_back_is_a_failure_of_its_own(tmp_path):
    with Store(tmp_path / "s.sqlite") as db:  # as another rdpkit, or a damaged file, might leave it
        db.claim(Echo(1).key, Echo.kind, Echo(1).identity())
        db.finish(Echo(1).key, {"key": Echo(1).key})
    driven = _drive([Echo(1), Echo(2)], tmp_path / "s.sqlite")
    assert RUNS == [2] and driven.result(Echo(2)) == Doubled(4)
    assert driven.failure(Echo(1)) == "its stored result does not read back (KeyError: 'value'); run it again with force."
    assert _drive([Echo(1)], tmp_path / "s.sqlite", force=True).result(Echo(1)) == Doubled(2)


def test_bad_input_is_refused_before_the_store_is_written(tmp_path):
    with pytest.raises(rdpkit.InputError, match="value must be at least 0, got -1"):
        _drive([Echo(1), Echo(-1)], tmp_path / "s.sqlite")
    assert RUNS == [] and not (tmp_path / "s.sqlite").exists()
    with pytest.raises(rdpkit.InputError, match="distortion 'mse' has no option 'bogus'"):
        audit(["mse,bogus=1"], images=["builtin:astronaut"], inits=["noise"], store=tmp_path / "a.sqlite", size=32, steps=5, device="cpu", progress=False)
    assert not (tmp_path / "a.sqlite").exists(), "the audit checks options without building the distortion in a worker"


def test_a_trial_not_ready_to_run_leaves_no_store_and_a_finished_one_is_not_checked_again(tmp_path):
    UNREADY.add(7)
    with pytest.raises(rdpkit.InputError, match="value 7 needs training first"):
        _drive([Echo(1), Echo(7)], tmp_path / "s.sqlite")
    assert RUNS == [] and not (tmp_path / "s.sqlite").exists()
    _drive([Echo(1)], tmp_path / "s.sqlite")
    CHECKED.clear()
    UNREADY.add(1)  # finished: read back, not built again
    with pytest.raises(rdpkit.InputError, match="value 7 needs training first"):
        _drive([Echo(1), Echo(7)], tmp_path / "s.sqlite")
    assert CHECKED == [7] and RUNS == [1]


def test_stored_trials_are_rebuilt_from_their_identity(tmp_path):
    store = tmp_path / "v1.sqlite"
    shutil.copy(DATA / "store-v1.sqlite", store)
    for readonly in (True, False):  # read through the upgrade, then upgraded in place
        with Store(store, readonly=readonly) as db:
            for kind in (RecoveryTrial, SweepTrial):
                stored = kind.stored(db)
                assert stored and all(t.key == row.key and r is not None for row, t, r in stored)


# -- the harnesses share the policy -------------------------------------------------------

#: Components that fail while their name is in here.
FLAKY: set[str] = set()


class FlakyMSE(MSE):
    def _distance(self, x, x_hat):
        if "distortion" in FLAKY:
            raise RuntimeError("flaky distortion")
        return super()._distance(x, x_hat)


class FlakySQ(ScalarQuantizer):
    def _encode(self, x):
        if "codec" in FLAKY:
            raise RuntimeError("flaky codec")
        return super()._encode(x)


class FlakyPlugin:
    @rdpkit.hookimpl
    def rdpkit_distortions(self) -> list[rdpkit.Spec]:
        return [rdpkit.Spec("flaky-mse", FlakyMSE, summary="MSE that fails on demand", differentiable=True)]

    @rdpkit.hookimpl
    def rdpkit_codecs(self) -> list[rdpkit.Spec]:
        return [rdpkit.Spec("flaky-sq", FlakySQ, summary="a scalar quantiser that fails on demand")]


SWEEP = {
    "sweep": {"name": "flaky", "seeds": [0]},
    "data": {"source": "digits", "limit": 32},
    "codec": [{"name": "flaky-sq", "grid": {"levels": [4, 8]}}],
    "evaluate": {"distortions": ["mse"], "perception": "wasserstein-sliced", "samples": 2},
}


def _runs(tmp_path: Path, registry: rdpkit.Registry) -> dict[str, Any]:
    """For the sweep and the audit: one run on the store that holds what the last run left."""
    sweep = run_sweep(SweepConfig.from_dict(SWEEP), tmp_path / "sweep.sqlite", progress=False, registry=registry)
    checked = audit(["flaky-mse"], images=["builtin:astronaut"], inits=["noise", "blur:2"], store=tmp_path / "audit.sqlite",
                    registry=registry, size=32, steps=5, device="cpu", progress=False)
    return {"sweep": (sweep.ran, sweep.failed, sweep.already_done), "audit": (checked.ran, len(checked.problems), checked.reused)}


def test_the_sweep_and_the_audit_continue_a_store_and_retry_failed_trials_alike(tmp_path):
    registry = fresh_registry(FlakyPlugin())
    FLAKY.update({"codec", "distortion"})
    assert _runs(tmp_path, registry) == {"sweep": (0, 2, 0), "audit": (0, 1, 0)}
    FLAKY.clear()
    assert _runs(tmp_path, registry) == {"sweep": (2, 0, 0), "audit": (2, 0, 0)}, "failed trials run again"
    assert _runs(tmp_path, registry) == {"sweep": (0, 0, 2), "audit": (0, 0, 2)}, "a store holding the trials is continued, not refused"
