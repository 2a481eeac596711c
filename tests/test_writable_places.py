"""Read-only and full places (issue 23, item 15): one sentence, up front where it can be known, and nothing lost.

A store that takes no write is refused before any trial runs when there is work to do, and read
as it is when there is none; an output folder that takes no file is refused before any work. A
full disk is one sentence: the store keeps every trial finished before it (a rerun runs only the
rest), and an output file is whole or not there at all (written beside, then renamed).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import rdpkit
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.evaluate import evaluate, write
from rdpkit.report import output_path, write_bytes
from rdpkit.store import Store

KW: dict[str, Any] = {"distortions": [], "features": None, "executor": "inline", "progress": False}


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a file or folder take no write: chmod, or as root (where chmod stops nothing) chattr +i; undone afterwards."""
    made: list[tuple[Path, int | None]] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            made.append((path, path.stat().st_mode))
            path.chmod(0o555 if path.is_dir() else 0o444)
            return
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True).returncode != 0:
            pytest.skip("these tests run as root, where chmod does not stop writes, and chattr +i (an immutable file) is not available here")
        made.append((path, None))

    yield make
    for path, mode in reversed(made):
        if mode is None:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(mode)


def _images(folder: Path) -> Path:
    for name, image in (("a.png", "builtin:astronaut"), ("b.png", "builtin:coffee")):
        save_png(load_image(image, size=48), folder / name)
    return folder


def test_a_store_that_takes_no_write_is_refused_before_any_trial_and_read_when_nothing_is_left(tmp_path, read_only):
    folder, store = _images(tmp_path / "images"), tmp_path / "s.sqlite"
    first = evaluate(["jpeg,quality=[30]"], str(folder), store=store, **KW)
    read_only(store)
    again = evaluate(["jpeg,quality=[30]"], str(folder), store=store, **KW)  # nothing to run: read back as it is
    assert again.summary.ran == 0 and again.curves["jpeg"][0][1] == first.curves["jpeg"][0][1]
    with pytest.raises(rdpkit.InputError, match="the result store .* cannot be written .*; make the file and its folder writable, or give another --store"):
        evaluate(["jpeg,quality=[30,60]"], str(folder), store=store, **KW)
    with Store(store, readonly=True) as db:
        assert [t.status for t in db.trials()] == ["done"]


def test_an_output_folder_that_takes_no_file_is_refused_before_any_work(tmp_path, read_only):
    folder, out = _images(tmp_path / "images"), tmp_path / "out"
    out.mkdir()
    read_only(out)
    result = CliRunner().invoke(cli, ["evaluate", "--codec", "jpeg,quality=[30]", "--data", str(folder), "--features", "none", "--distortion", "mse",
                                      "--out", str(out), "--store", str(tmp_path / "s.sqlite"), "--executor", "inline"])
    assert result.exit_code == 2 and "cannot write in the output folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.sqlite").exists(), "refused before the store was opened, let alone a trial run"


def test_an_output_file_in_a_folder_that_takes_none_is_refused_when_checked_before_the_work(tmp_path, read_only):
    folder = tmp_path / "reports"
    folder.mkdir()
    read_only(folder)
    with pytest.raises(rdpkit.InputError, match="cannot write in the folder .*reports' of the output 'audit.html' .*; make it writable"):
        output_path(folder / "audit.html")  # what `rdpkit audit` calls for --report before any trial


class _FillsUp:
    """An SQLite connection on a disk that fills up once `room` more trials are stored."""

    def __init__(self, db: sqlite3.Connection, room: int) -> None:
        self._db, self.room = db, room

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.lstrip().startswith("UPDATE trials SET status = 'done'"):
            if self.room == 0:
                raise sqlite3.OperationalError("database or disk is full")
            self.room -= 1
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_full_disk_under_the_store_is_one_sentence_and_keeps_what_finished(tmp_path, monkeypatch):
    folder, store = _images(tmp_path / "images"), tmp_path / "s.sqlite"
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FillsUp(connect(*a, **k), room=1))
    with pytest.raises(rdpkit.InputError, match="the disk holding the result store .* is full .*; free some space and run again"):
        evaluate(["jpeg,quality=[30,60]"], str(folder), store=store, **KW)
    monkeypatch.undo()
    with Store(store, readonly=True) as db:
        # The second trial's result was rolled back whole: it is still only claimed (by this process; a rerun takes it over).
        assert sorted(t.status for t in db.trials()) == ["done", "running"] and sum(bool(db.artifact_names(t.key)) for t in db.trials()) == 1
    again = evaluate(["jpeg,quality=[30,60]"], str(folder), store=store, **KW)
    assert again.summary.already_done == 1 and again.summary.ran == 1 and not again.failed


def test_a_full_disk_under_the_outputs_is_one_sentence_and_leaves_no_truncated_file(tmp_path, monkeypatch):
    ev = evaluate(["jpeg,quality=[30,60]"], str(_images(tmp_path / "images")), store=tmp_path / "s.sqlite", **KW)
    out = tmp_path / "out"
    write(ev, out)
    before = {p.name: p.read_bytes() for p in out.glob("*.png")}
    real = Path.write_bytes

    def half_then_full(self: Path, data: bytes) -> int:
        if ".png" in self.name:  # the figure itself, or the temporary file it is written to
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    with pytest.raises(rdpkit.InputError, match="the disk is full: .*rd-.*\\.png' could not be written \\(No space left on device\\); free some space"):
        write(ev, out)
    with pytest.raises(rdpkit.InputError, match="the disk is full"):
        write_bytes(tmp_path / "new" / "x.png", b"\x89PNG" * 100)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == before, "every earlier figure whole, none truncated"
    assert not (tmp_path / "new" / "x.png").exists() and not [p for p in tmp_path.rglob("*.tmp")]


def test_a_full_disk_while_a_store_is_made_says_the_disk_is_full(tmp_path, monkeypatch):
    class Full:
        def __init__(self, db: sqlite3.Connection) -> None:
            self._db = db

        def executescript(self, sql: str) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._db, name)

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Full(connect(*a, **k)))
    with pytest.raises(rdpkit.InputError, match="the disk holding the result store .*new.sqlite' is full \\(database or disk is full\\); free some space"):
        Store(tmp_path / "new.sqlite")
    monkeypatch.setattr(Path, "mkdir", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(rdpkit.InputError, match="the disk holding the result store .* is full \\(\\[Errno 28\\] No space left on device\\)"):
        Store(tmp_path / "folder" / "new.sqlite")


def test_save_png_on_a_full_disk_is_one_sentence_and_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from PIL import Image

    path = save_png(load_image("builtin:astronaut", size=32), tmp_path / "x.png")
    before = path.read_bytes()
    real = Image.Image.save

    def half_then_full(self: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        real(self, fp, *args, **kwargs)
        Path(fp).write_bytes(Path(fp).read_bytes()[:40])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    with pytest.raises(rdpkit.InputError, match="the disk is full: .*x.png' could not be written \\(No space left on device\\); free some space"):
        save_png(load_image("builtin:coffee", size=32), path)
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.png"]
