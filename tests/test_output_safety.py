"""Outputs never overwrite a result store, and no CSV cell rdpkit writes is run by a spreadsheet as a formula (issue 23, items 7 and 11)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image
from test_sweep_run import toy_sweep
from test_sweep_toy import toy_plugin  # noqa: F401  (fixture)

from rdpkit.cli import cli
from rdpkit.errors import InputError
from rdpkit.evaluate import evaluate
from rdpkit.report import (
    Page,
    csv_cell,
    output_folder,
    output_path,
    write_bytes,
    write_csv,
    write_frame,
)
from rdpkit.store import Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.runner import run_sweep

HOSTILE = '=HYPERLINK("http://example.com/x","click")'


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def _images(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "a.png")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A result store with something in it."""
    path = tmp_path / "s.sqlite"
    with Store(path) as db:
        assert db.path == path
    return path


# -- item 7: the store is never an output ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["index.html", "summary.csv", "results/x.json", "evaluate/per-image.csv", "audit.html"])
def test_a_store_inside_the_output_folder_under_an_output_name_is_refused_before_any_work(tmp_path, name):
    store = tmp_path / "o" / name
    with pytest.raises(InputError, match="lies in the output folder"):
        output_folder(tmp_path / "o", protect=[store])
    output_folder(tmp_path / "o", protect=[tmp_path / "o" / "plane.sqlite"])  # the plane's default store is fine


def test_no_writer_overwrites_the_store_or_any_sqlite_database(tmp_path, store):
    before = _digest(store)
    link = tmp_path / "hard-link.csv"
    os.link(store, link)
    symlink = tmp_path / "symlink.html"
    symlink.symlink_to(store)
    for path in (store, link, symlink):
        for write in (lambda p: write_bytes(p, b"x"), lambda p: write_csv(p, ["a"], [{"a": 1}]),
                      lambda p: write_frame(p, pd.DataFrame({"a": [1]})), lambda p: Page("t").write(p)):
            with pytest.raises(InputError, match="result store"):
                write(path)
        with pytest.raises(InputError, match="is the result store"):
            output_path(path, protect=[store])
    assert _digest(store) == before


def test_report_refuses_a_store_that_is_one_of_its_outputs(tmp_path):
    store = tmp_path / "o" / "evaluate" / "summary.csv"
    evaluate(["jpeg,quality=[20,60]"], str(_images(tmp_path / "images")), distortions=[], features=None, store=store, executor="inline", progress=False)
    before = _digest(store)
    result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "lies in the output folder" in result.output, result.output
    assert _digest(store) == before and not (tmp_path / "o" / "evaluate" / "index.html").exists()


@pytest.mark.usefixtures("toy_plugin")
def test_sweep_report_refuses_to_write_over_its_store(tmp_path):
    from rdpkit.sweep.report import write_report

    store = tmp_path / "o" / "results.csv"
    run_sweep(SweepConfig.from_dict(toy_sweep([2, 4], [0])), store, workers=1, progress=False)
    before = _digest(store)
    with pytest.raises(InputError, match="lies in the output folder"):
        write_report(store, tmp_path / "o")
    assert _digest(store) == before


@pytest.mark.usefixtures("toy_plugin")
def test_plane_refuses_a_store_that_is_one_of_its_outputs_before_running(tmp_path):
    out = tmp_path / "o"
    for name in ("plane.csv", "index.html", "plane.png"):
        result = CliRunner().invoke(cli, ["plane", "--data", "builtin:astronaut,camera", "--size", "32", "--codec", "jpeg,quality=20",
                                          "--perception", "toy-mean-gap", "--out", str(out), "--store", str(out / name), "--executor", "inline", "--quiet"])
        assert result.exit_code == 2 and "lies in the output folder" in result.output, result.output
        assert not (out / name).exists(), "refused before the store was created"


# -- item 11: CSV cells are never formulas ----------------------------------------------------------------------

def test_csv_cell_neutralises_text_that_starts_a_formula_and_leaves_numbers_alone():
    for text in (HOSTILE, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(text) == "'" + text
    for value in (-1.5, -3, "-1.5", "-inf", "1e-3", "plain", "a=b", None, 0):
        assert csv_cell(value) == value


def test_every_csv_writer_neutralises_text_cells_and_keeps_numbers(tmp_path):
    write_csv(tmp_path / "a.csv", ["name", "value"], [{"name": HOSTILE, "value": -1.5}])
    write_frame(tmp_path / "b.csv", pd.DataFrame({"name": [HOSTILE, "@x"], "value": [-1.5, -2.0], HOSTILE: ["-x", 3]}))
    rows = list(csv.reader((tmp_path / "a.csv").open()))
    assert rows == [["name", "value"], ["'" + HOSTILE, "-1.5"]]
    frame = pd.read_csv(tmp_path / "b.csv")
    assert list(frame.columns) == ["name", "value", "'" + HOSTILE]
    assert list(frame["name"]) == ["'" + HOSTILE, "'@x"] and list(frame["value"]) == [-1.5, -2.0], "negative numbers stay numbers"
    assert list(frame["'" + HOSTILE]) == ["'-x", "3"]


@pytest.mark.usefixtures("toy_plugin")
def test_the_sweep_report_csv_files_hold_no_formula(tmp_path):
    from rdpkit.sweep.report import write_report

    store = tmp_path / "s.sqlite"
    run_sweep(SweepConfig.from_dict(toy_sweep([2, 4], [0], label=HOSTILE)), store, workers=1, progress=False)
    write_report(store, tmp_path / "rep")
    for name in ("results.csv", "settings.csv"):
        cells = [cell for row in csv.reader((tmp_path / "rep" / name).open()) for cell in row]
        assert HOSTILE not in cells and "'" + HOSTILE in cells, name
