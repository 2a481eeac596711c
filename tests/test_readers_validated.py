"""Rows of valid JSON but the wrong shape: `results` and `report` refuse them in one sentence, as the store refuses damage.

The store checks that a row's configuration and result are JSON objects; each harness's trial
and result types check the rest when they read a row back (`Trial.stored`, `Result.check`):
every field of its annotated type (`rdpkit.validation.check_fields`) and what the reports
compute with (a sweep's primary distortion, an evaluation's images).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdpkit.cli import cli
from rdpkit.errors import InputError
from rdpkit.store import Store
from rdpkit.validation import check_fields

SWEEP = {"data": {"source": "digits", "limit": 40}, "codec": [{"name": "sq", "grid": {"levels": [2, 8]}}],
         "evaluate": {"distortions": ["mse"], "divergences": [], "perception": "wasserstein-sliced", "samples": 2}}


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory) -> Path:
    """A store of two finished sweep trials, two finished evaluate trials and a finished recovery run."""
    from rdpkit.evaluate.run import evaluate
    from rdpkit.recovery.audit import audit
    from rdpkit.sweep.config import SweepConfig
    from rdpkit.sweep.runner import run_sweep

    path = tmp_path_factory.mktemp("readers") / "seed.sqlite"
    run_sweep(SweepConfig.from_dict(SWEEP), path, executor="inline", progress=False)
    evaluate(["jpeg,quality=[30,70]"], "builtin:astronaut", distortions=["mse"], features=None, store=path, executor="inline", progress=False)
    audit(["mse"], images=["builtin:astronaut"], inits=["noise"], size=16, steps=5, device="cpu", store=path, executor="inline", progress=False)
    return path


def edited(seed: Path, folder: Path, kind: str, column: str, edit) -> tuple[Path, str]:
    """A copy of `seed` whose first finished `kind` row has `column` replaced by edit(the parsed JSON) (a string: that text)."""
    path = folder / "edited.sqlite"
    shutil.copyfile(seed, path)
    for suffix in ("-wal", "-shm"):
        if Path(f"{seed}{suffix}").exists():
            shutil.copyfile(f"{seed}{suffix}", f"{path}{suffix}")
    db = sqlite3.connect(path, isolation_level=None)
    key, value = db.execute(f"SELECT key, {column} FROM trials WHERE kind = ? AND status = 'done' ORDER BY key", (kind,)).fetchone()
    new = edit(json.loads(value))
    db.execute(f"UPDATE trials SET {column} = ? WHERE key = ?", (new if isinstance(new, str) else json.dumps(new), key))
    db.close()
    return path, key


def one_sentence(args: list[str]) -> str:
    """The one line an rdpkit error ends the command with (`results --json` prints the rows it read before it)."""
    out = CliRunner().invoke(cli, args)
    assert out.exception is None or isinstance(out.exception, SystemExit), f"{type(out.exception).__name__}: {out.exception}"
    assert out.exit_code == 2, out.output
    last = out.output.strip().splitlines()[-1]
    assert "Traceback" not in out.output and last.startswith("error: "), out.output
    return last


def without(key: str):
    return lambda d: {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize("kind, column, edit, says", [
    ("sweep", "result", lambda r: "[1, 2]", "JSON list where an object belongs"),
    ("evaluate", "result", lambda r: "[1, 2]", "JSON list where an object belongs"),
    ("evaluate", "result", without("device"), "KeyError: 'device'"),
    ("sweep", "result", without("device"), "KeyError: 'device'"),
    ("sweep", "result", lambda r: {**r, "primary_distortion": "ssim"}, "KeyError: 'ssim'"),
    ("sweep", "result", lambda r: {**r, "distortions": {"mse": {**r["distortions"]["mse"], "mean": "small"}}},
     "SweepResult.distortions['mse'].mean is 'small', not a number"),
    ("evaluate", "result", lambda r: {**r, "images": []}, "the result holds no image"),
    ("evaluate", "result", lambda r: {**r, "images": [{**r["images"][0], "bpp": [1]}]}, "EvaluateResult.images[0].bpp is [1], not a number"),
    ("sweep", "config", lambda c: {**c, "seed": "one"}, "ValueError"),
    ("sweep", "config", lambda c: {**c, "label": 5}, "SweepTrial.label is a int, not a str"),
    ("sweep", "config", lambda c: json.dumps({**c, "seed": float("inf")}), "OverflowError: cannot convert float infinity to integer"),
    ("evaluate", "config", without("label"), "KeyError: 'label'"),
    ("evaluate", "result", lambda r: {**r, "components": "rdpkit"}, "EvaluateResult.components is a str, not a dict"),
    ("recovery", "config", without("init"), "KeyError: 'init'"),
    ("recovery", "result", lambda r: {**r, "components": {"distortion": "rdpkit"}}, "RecoveryResult.components['distortion'] is a str, not a dict"),
    ("recovery", "result", lambda r: {**r, "psnr": None}, "which this rdpkit cannot read (TypeError"),
    ("recovery", "result", lambda r: {**r, "trajectory": {**r["trajectory"], "ssim": []}}, "IndexError: list index out of range"),
])
def test_report_and_results_refuse_a_row_of_the_wrong_shape_in_one_sentence(seed_store, tmp_path, kind, column, edit, says):
    path, key = edited(seed_store, tmp_path, kind, column, edit)
    report = one_sentence(["report", "--store", str(path), "--out", str(tmp_path / "report")])
    assert says in report and (key in report or "damaged" in report), report
    for form in ([], ["--json"]):  # `results` shows a row of a kind it does not draw as the store holds it, or refuses it
        out = CliRunner().invoke(cli, ["results", "--store", str(path), *form])
        assert out.exception is None or isinstance(out.exception, SystemExit), f"{type(out.exception).__name__}: {out.exception}"
        assert out.exit_code == 0 or (out.exit_code == 2 and "error: " in out.output), out.output
    assert not (tmp_path / "report").exists() or not any((tmp_path / "report").iterdir()), "refused before any work"


def test_the_seed_store_reads(seed_store, tmp_path):
    out = CliRunner().invoke(cli, ["report", "--store", str(seed_store), "--out", str(tmp_path / "report")])
    assert out.exit_code == 0, out.output


def test_the_store_refuses_a_row_that_is_not_a_json_object(seed_store, tmp_path):
    path, _ = edited(seed_store, tmp_path, "evaluate", "config", lambda c: "5")
    with Store(path, readonly=True) as db, pytest.raises(InputError, match="is damaged .*JSON int where an object belongs"):
        db.trials()


@dataclass(frozen=True)
class Inner:
    value: float
    n: int


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    by_name: dict[str, Inner] = field(default_factory=dict)
    pair: tuple[float, float] | None = None
    values: list[float] = field(default_factory=list)


@pytest.mark.parametrize("obj, message", [
    (Outer("a", Inner(1.5, 2), {"b": Inner(1, 0)}, (0, 1.0), [1, 2.5]), None),
    (Outer("a", Inner(True, 2)), "Outer.inner.value is True, not a number"),
    (Outer("a", Inner(1.0, 2.0)), "Outer.inner.n is 2.0, not an integer"),
    (Outer("a", {"value": 1.0, "n": 2}), "Outer.inner is a dict, not a Inner"),  # type: ignore[arg-type]
    (Outer("a", Inner(1.0, 2), {"b": [1]}), "Outer.by_name['b'] is a list, not a Inner"),  # type: ignore[dict-item]
    (Outer("a", Inner(1.0, 2), pair=(1.0,)), "Outer.pair has 1 entries, not 2"),  # type: ignore[arg-type]
    (Outer("a", Inner(1.0, 2), values=[1.0, "x"]), "Outer.values[1] is 'x', not a number"),  # type: ignore[list-item]
    (Outer(5, Inner(1.0, 2)), "Outer.name is a int, not a str"),  # type: ignore[arg-type]
])
def test_check_fields_names_the_first_field_of_the_wrong_type(obj, message):
    if message is None:
        check_fields(obj)
    else:
        with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
            check_fields(obj)


@pytest.mark.parametrize("measure, values", [("psnr-rgb", [27.9, 29.5, 31.7, 1e308]), ("ms-ssim-db-rgb", [10.0, 12.0, 14.0, -1e300])])
def test_a_result_file_of_absurd_values_reads_and_its_bd_rows_say_why_not(tmp_path, measure, values):
    """Found by the resultjson fuzz target: PCHIP's slopes overflowed (ValueError), MS-SSIM from dB overflowed (RuntimeWarning)."""
    import warnings

    from rdpkit.anchors import published, read
    from rdpkit.evaluate.report import bd_frame

    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"name": "odd", "results": {"bpp": [0.1, 0.2, 0.4, 0.8], measure: values}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rows = bd_frame([published("vtm"), read(path)], "published:vtm")
    odd = rows[rows.codec == "odd"]
    assert len(odd) and odd["bd_rate_%"].isna().all() and odd.note.str.len().gt(0).all(), odd.to_dict("records")


def test_a_stored_standard_error_near_the_float_limit_gives_no_overflow_warning():
    """Found by the rows fuzz target: a stored stderr of 1e300 overflowed in the admissible set's intervals (a note in `report`)."""
    import warnings

    import numpy as np

    from rdpkit.pareto import non_dominated

    from rdpkit.pareto import samples_to_resolve

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for big in (1e300, 1e308):
            mask = non_dominated(np.array([[1.0, 0.5], [2.0, 0.4]]), np.array([[0.0, big], [0.0, big]]))
            assert mask.tolist() == [True, True]
            assert samples_to_resolve(np.array([0.5, 0.4]), np.array([big, 0.01]), np.array([10, 10])).tolist() == [np.inf, np.inf]
