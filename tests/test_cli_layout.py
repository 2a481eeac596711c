"""What `rdpkit list`, `plugins` and `theory` print at 80 and 120 columns and with --quiet; what `rdpkit results` leaves beside a store."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from rdpkit.cli import cli
from rdpkit.cli.output import console
from rdpkit.registry import get_registry
from rdpkit.theory import bernoulli_rdp


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(params=[80, 120])
def columns(request, monkeypatch) -> int:
    """A window of this many columns (a terminal sets the console's width; captured output is otherwise 240 wide)."""
    monkeypatch.setattr(console, "width", request.param)
    return request.param


def _whole(name: str, text: str) -> bool:
    """Whether `name` stands on some line of `text` as a word of its own (not cut, not part of a longer name)."""
    return re.search(rf"(?<![\w:-]){re.escape(name)}(?![\w-])", text) is not None


def test_list_shows_every_name_whole_on_one_line_each(columns):
    names = [json.loads(line)["name"] for line in run("list", "--json").output.splitlines()]
    res = run("list")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert all(cell_len(line.rstrip()) <= columns for line in lines)
    assert [n for n in names if not _whole(n, res.output)] == []
    # One line per component, plus a title, a header, a heading per kind and a closing note.
    kinds = {json.loads(line)["kind"] for line in run("list", "--json").output.splitlines()}
    assert len(lines) <= len(names) + len(kinds) + 4


def test_list_names_where_components_come_from_when_there_is_room(monkeypatch):
    monkeypatch.setattr(console, "width", 160)
    assert re.search(r"\bmse\b.*\brdpkit\b", run("list", "distortion").output)
    monkeypatch.setattr(console, "width", 80)
    out = run("list", "distortion").output
    assert "--json" in out and not re.search(r"\bmse\b.*\brdpkit\b", out)


def test_plugins_verbose_never_splits_a_name(columns):
    res = run("plugins", "--verbose")
    assert res.exit_code == 0, res.output
    registered = [item for r in get_registry().plugins for item in r.registered]
    assert registered and [item for item in registered if not _whole(item, res.output)] == []
    assert all(cell_len(line.rstrip()) <= columns for line in res.output.splitlines())


def test_list_quiet_prints_the_names_alone():
    res = run("list", "distortion", "--quiet")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [json.loads(line)["name"] for line in run("list", "distortion", "--json").output.splitlines()]


def test_plugins_quiet_prints_the_plugin_names_alone():
    res = run("plugins", "-q")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [r.name for r in get_registry().plugins]


def test_theory_commands_take_quiet(tmp_path):
    res = run("theory", "bernoulli", "--p", "0.1", "--points", "20", "--out", str(tmp_path / "figs"), "-q")
    assert res.exit_code == 0, res.output
    assert res.output == "" and (tmp_path / "figs" / "bernoulli-rdp.csv").is_file()
    (tmp_path / "s.json").write_text("[0.9, 0.1]")
    res = run("theory", "solve", "--source", str(tmp_path / "s.json"), "--distortion", "hamming", "--D", "0.05", "--P", "0.02", "--quiet")
    assert res.exit_code == 0, res.output
    assert float(res.output) == pytest.approx(float(bernoulli_rdp(0.05, 0.02, 0.1)), abs=1e-4)


def _store_with_a_trial(path) -> None:
    from rdpkit.store import Store

    with Store(path) as db:
        db.claim("k1", "other", {"what": "a trial"})
        db.fail("k1", "it broke")


def test_results_leaves_no_file_beside_the_store(tmp_path):
    _store_with_a_trial(tmp_path / "s.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]
    res = run("results", "--store", str(tmp_path / "s.sqlite"))
    assert res.exit_code == 0, res.output
    assert "it broke" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]


def test_results_leaves_the_files_of_a_store_another_process_has_open(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "s.sqlite"
    _store_with_a_trial(path)
    writer = subprocess.Popen([sys.executable, "-c", f"from rdpkit.store import Store; db = Store({str(path)!r}); db.trials(); print('open', flush=True); input()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "open\n"
        assert run("results", "--store", str(path), "--json").exit_code == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite", "s.sqlite-shm", "s.sqlite-wal"]
    finally:
        writer.communicate("\n", timeout=60)
