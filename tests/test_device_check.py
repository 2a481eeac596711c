"""benchmarks/device_check.py: one sentence and exit 0 without a GPU; its CPU dry run runs every comparison and passes."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

pytest.importorskip("rdpkit_learned_codecs")
PATH = Path(__file__).parents[1] / "benchmarks" / "device_check.py"


@pytest.fixture
def check(monkeypatch):
    monkeypatch.syspath_prepend(str(PATH.parent))  # spawned processes of the dry run import its probe by module name, through sys.path
    return importlib.import_module("device_check")


def test_without_a_gpu_it_says_so_in_one_sentence_and_exits_0(check, monkeypatch, capsys):
    monkeypatch.setattr(check.torch.cuda, "is_available", lambda: False)
    assert check.main([]) == 0
    out = capsys.readouterr().out
    assert out.strip() == check.NEEDS_GPU and out.count(".") == 1


def test_a_mismatch_is_marked_in_the_table(check):
    rows = [check.Row("a", "1", True), check.Row("b", "2", False), check.Row("c", "3", None)]
    assert [line.split()[1] for line in check.table(rows).splitlines()] == ["ok", "MISMATCH", "info"]


def test_the_cpu_dry_run_runs_every_check_and_passes(check, capsys):
    code = check.main(["--device", "cpu", "--steps", "2", "--cpu-steps", "1", "--parallel-steps", "2", "--batch", "2", "--crop", "64", "--size", "64x128"])
    out = capsys.readouterr().out
    assert code == 0 and "every check passed" in out, out
    for kind in check.KINDS:
        assert out.count(f"{kind} q=1: encode cpu, decode cpu") == 2 and "integers identical" in out
    assert "--processes 2 on cpu (gloo)" in out and "the same weights" in out and "all_reduce over 2 process(es)" in out
