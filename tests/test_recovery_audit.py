"""The audit: the result store (reuse, --force, resume after SIGKILL), the HTML report, CSV/JSON export, the CLI."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_recovery import Plugin

import rdpkit
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.recovery.audit import COLUMNS, audit
from rdpkit.recovery.report import render, write_report
from rdpkit.store import Store
from rdpkit.testing import fresh_registry

TINY = {"size": 32, "steps": 30, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def registry() -> rdpkit.Registry:
    return fresh_registry(Plugin())


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_audit_stores_reuses_and_forces(tmp_path, registry):
    store = tmp_path / "a.sqlite"
    kw = dict(images=["builtin:astronaut", "builtin:coffee"], inits=["noise", "blur:2"], store=store, registry=registry, **TINY)
    first = audit(["mse", "pooled-mse"], **kw)
    assert (first.ran, first.reused, first.problems) == (8, 0, {})
    assert {(r.distortion, r.image, r.init) for r in first.results} == {
        (d, i, s) for d in ("mse", "pooled-mse") for i in kw["images"] for s in kw["inits"]}
    again = audit(["mse", "pooled-mse"], **kw)
    assert (again.ran, again.reused) == (0, 8)
    assert [r.psnr for r in again.results] == [r.psnr for r in first.results]
    forced = audit(["mse"], force=True, **kw)
    assert (forced.ran, forced.reused) == (4, 0)
    with Store(store) as db:
        trials = db.trials(kind="recovery")
    assert len(trials) == 8 and all(t.status == "done" for t in trials)
    rec = trials[0].result
    assert rec["components"]["distortion"]["distribution"] and rec["components"]["distortion"]["version"]
    assert torch.__version__.startswith(rec["software"]["torch"])


def test_stored_runs_are_rejudged_under_new_thresholds(tmp_path, registry):
    kw = dict(images=["builtin:astronaut"], inits=["noise"], store=tmp_path / "s.sqlite", registry=registry, **TINY)
    strict = rdpkit.recovery.Thresholds(psnr_db=200.0)
    before = audit(["mse"], **kw).results[0]
    after = audit(["mse"], thresholds=strict, **kw)
    assert after.ran == 0 and after.results[0].psnr == before.psnr
    assert after.results[0].verdict.label != "recovered" and "< 200 dB" in after.results[0].verdict.reason


def test_problems_do_not_stop_the_audit(tmp_path, registry):
    class Broken(rdpkit.interfaces.Distortion):
        def _distance(self, x, x_hat):
            raise RuntimeError("kaput")

    class BrokenPlugin:
        @rdpkit.hookimpl
        def rdpkit_distortions(self):
            return [rdpkit.Spec("broken", Broken, differentiable=True)]

    reg = fresh_registry(BrokenPlugin())
    result = audit(["broken", "mse"], images=["builtin:astronaut"], inits=["noise"], store=tmp_path / "p.sqlite", registry=reg, **TINY)
    assert "kaput" in result.problems["broken"] and [r.distortion for r in result.results] == ["mse"]
    assert "kaput" in render(result)
    with pytest.raises(rdpkit.InputError, match="not differentiable"):
        audit(["rounded-mse"], store=tmp_path / "p.sqlite", registry=registry, **TINY)


def test_report_is_self_contained_and_escaped(tmp_path, registry):
    evil = save_png(load_image("builtin:camera", size=40), tmp_path / "<script>alert(1)</script>.png")
    result = audit(["mse", "pooled-mse"], images=[str(evil)], inits=["noise"], store=tmp_path / "r.sqlite", registry=registry, **TINY)
    page = write_report(result, tmp_path / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parser = Images()
    parser.feed(page)
    # Gallery: init + 2 recovered + 2 error maps + reference; one convergence figure.
    assert len(parser.sources) == 7
    for src in parser.sources:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            assert im.size[0] > 0
    for needle in ("Gallery", "Convergence", "Does the verdict agree with the pictures?", "fast: Adam, 30 steps", "PSNR ≥ 30 dB"):
        assert needle in page


def test_csv_and_dataframe_export(tmp_path, registry):
    result = audit(["mse"], images=["builtin:astronaut"], inits=["noise", "jpeg:10"], store=tmp_path / "c.sqlite", registry=registry, **TINY)
    rows = list(csv.DictReader(result.to_csv(tmp_path / "r.csv").open()))
    assert len(rows) == 2 and tuple(rows[0]) == COLUMNS
    df = result.to_dataframe()
    assert list(df.columns) == list(COLUMNS) and df["psnr"].tolist() == [r.psnr for r in result.results]


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_recover_cli_json_and_files(tmp_path):
    out = tmp_path / "out"
    res = run_cli("recover", "--distortion", "mse", "--size", "32", "--steps", "40", "--device", "cpu", "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert {"verdict", "psnr", "ssim", "distortion_value", "steps", "seconds"} <= set(d) and d["steps"] == 40
    assert d["verdict"] in ("recovered", "blind spot", "not converged")
    assert {p.name for p in out.iterdir()} >= {"reference.png", "initial.png", "final.png", "curves.png", "result.json", "recover.sqlite"}
    again = run_cli("recover", "--distortion", "mse", "--size", "32", "--steps", "40", "--device", "cpu", "--out", str(out), "--json")
    assert json.loads(again.output)["seconds"] == d["seconds"]  # the stored run, not a new one


def test_audit_cli_json_csv_report(tmp_path):
    args = ["audit", "--distortion", "mse", "--image", "builtin:astronaut", "--init", "noise", "--size", "32", "--steps", "20",
            "--device", "cpu", "--store", str(tmp_path / "s.sqlite"), "--report", str(tmp_path / "r.html"),
            "--csv", str(tmp_path / "r.csv"), "--gallery", str(tmp_path / "g.png"), "--json"]
    res = run_cli(*args)
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["ran"] == 1 and d["results"][0]["verdict"] and d["profile"]["name"] == "fast"
    assert (tmp_path / "r.html").stat().st_size > 0 and (tmp_path / "r.csv").exists() and (tmp_path / "g.png").exists()


def test_cli_errors_are_one_line_without_traceback_and_leave_no_store(tmp_path):
    for command in (["recover", "--distortion", "ssmi"], ["audit", "--distortion", "mse", "--distortion", "ssmi"]):
        proc = subprocess.run([sys.executable, "-m", "rdpkit", *command], check=False, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 2 and "did you mean 'ssim'" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.sqlite")), "a name refused before anything ran leaves no result store"


def done_trials(store) -> dict[str, float]:
    """key → finish time of the finished trials (empty while the store is still being created)."""
    try:
        with sqlite3.connect(store, timeout=30) as db:
            return dict(db.execute("SELECT key, finished FROM trials WHERE status = 'done'").fetchall())
    except sqlite3.OperationalError:
        return {}


def test_killed_audit_resumes_without_rerunning_finished_trials(tmp_path):
    store = tmp_path / "k.sqlite"
    args = [sys.executable, "-m", "rdpkit", "audit", "--distortion", "mse", "--distortion", "ssim", "--image", "builtin:astronaut",
            "--init", "noise", "--init", "jpeg:10", "--size", "64", "--steps", "200", "--device", "cpu", "--store", str(store),
            "--report", str(tmp_path / "r.html"), "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not done_trials(store):  # kill it as soon as the first trials are done
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = done_trials(store)
    assert 2 <= len(finished) <= 4  # at least mse's two cases (one batched run) were stored
    resumed = subprocess.run(args, check=False, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert (report["ran"], report["reused"]) == (4 - len(finished), len(finished))
    after = done_trials(store)
    assert len(after) == 4 and all(after[k] == t for k, t in finished.items())  # nothing finished was run twice
