"""The SQLite result store: atomic results, stale claims after a kill, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys

import pytest

import rdpkit
from rdpkit.store import Store, config_key


def test_key_ignores_order_and_sees_values():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_claim_finish_and_artifacts(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        k = config_key({"x": 1})
        assert s.claim(k, "demo", {"x": 1})
        s.finish(k, {"value": 3.5}, {"final.png": b"\x89PNG"})
        t = s.get(k)
        assert t.status == "done" and t.result == {"value": 3.5} and t.seconds >= 0
        assert s.artifact(k, "final.png") == b"\x89PNG" and s.artifact_names(k) == ["final.png"]
        assert not s.claim(k, "demo", {"x": 1}), "a finished trial must not run twice"
        k2 = config_key({"x": 2})
        s.claim(k2, "demo", {"x": 2})
        s.fail(k2, "InputError: bad")
        assert not s.claim(k2, "demo", {"x": 2}) and s.claim(k2, "demo", {"x": 2}, retry_failed=True)
        assert [t.key for t in s.trials(status="done")] == [k]


def test_claim_of_a_killed_process_is_stale(tmp_path):
    path = tmp_path / "s.sqlite"
    code = (
        "import os, sys; from rdpkit.store import Store\n"
        f"s = Store({str(path)!r}); s.claim('k1', 'demo', {{}}); os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with Store(path) as s:
        assert s.status("k1") == "running"
        assert s.claim("k1", "demo", {}), "the claim of a dead process must be taken over"


def _writer(path: str, start: int) -> None:
    with Store(path) as s:
        for i in range(start, start + 40):
            key = f"k{i}"
            if s.claim(key, "demo", {"i": i}):
                s.finish(key, {"i": i, "pid": os.getpid()}, {"blob": os.urandom(64)})


def test_concurrent_writers_do_not_corrupt(tmp_path):
    path = str(tmp_path / "s.sqlite")
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, start)) for start in (0, 20, 20)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Store(path) as s:
        done = s.trials(status="done")
        assert sorted(t.result["i"] for t in done) == list(range(60))


def test_unwritable_store_is_one_sentence(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(rdpkit.InputError, match="choose a writable path"):
        Store(tmp_path / "file" / "s.sqlite")
