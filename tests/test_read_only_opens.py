"""Every read-only open of a store leaves nothing beside it (issue 24, item 6).

SQLite makes a WAL store's -wal and -shm files for a reader too, and only a writer removes them;
`Store(readonly=True).close()` removes those the reader made, so `rdpkit results`, `rdpkit report`
and the Python readers (`results_frame`, `write_report`) all leave the folder as they found it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rdpkit.cli import cli
from rdpkit.evaluate import evaluate
from rdpkit.store import Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.report import results_frame, write_report
from rdpkit.sweep.runner import run_sweep

SWEEP = {"data": {"source": "digits", "limit": 40}, "codec": [{"name": "sq", "grid": {"levels": [2, 8]}}],
         "evaluate": {"distortions": ["mse"], "divergences": [], "perception": "wasserstein-sliced", "samples": 2}}


def _beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    """A folder holding an evaluation store and a sweep store, each closed by the run that wrote it."""
    folder = tmp_path_factory.mktemp("stores")
    evaluate(["jpeg,quality=[30]"], "builtin:astronaut", distortions=["mse"], features=None, store=folder / "e.sqlite",
             executor="inline", progress=False)
    run_sweep(SweepConfig.from_dict(SWEEP), folder / "s.sqlite", executor="inline", progress=False)
    assert _beside(folder) == ["e.sqlite", "s.sqlite"]
    return folder


def test_a_read_only_store_closed_leaves_no_file_beside_it(stores):
    with Store(stores / "e.sqlite", readonly=True) as db:
        assert db.trials() and _beside(stores) == ["e.sqlite", "e.sqlite-shm", "e.sqlite-wal", "s.sqlite"]
    assert _beside(stores) == ["e.sqlite", "s.sqlite"]


def test_report_leaves_no_file_beside_the_store(stores, tmp_path):
    result = CliRunner().invoke(cli, ["report", "--store", str(stores / "e.sqlite"), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "evaluate" / "index.html").is_file() and _beside(stores) == ["e.sqlite", "s.sqlite"]


def test_the_python_readers_leave_no_file_beside_the_store(stores, tmp_path):
    assert len(results_frame(stores / "s.sqlite")) == 2
    assert write_report(stores / "s.sqlite", tmp_path / "sweep").is_file()
    assert _beside(stores) == ["e.sqlite", "s.sqlite"]


def test_a_store_opened_by_a_writer_keeps_its_files(stores):
    with Store(stores / "e.sqlite") as writer, Store(stores / "e.sqlite", readonly=True) as reader:
        assert reader.trials() == writer.trials()
    assert _beside(stores) == ["e.sqlite", "s.sqlite"], "the writer, closed last, removes them as SQLite always does"
    with Store(stores / "e.sqlite") as writer:
        with Store(stores / "e.sqlite", readonly=True) as reader:
            reader.trials()
        assert (stores / "e.sqlite-wal").exists(), "the reader did not make them, so it leaves them to the writer"
