"""Running sweeps for real: SIGKILL and resume, two writers on one store, local pool vs Ray, results and report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_sweep_toy import toy_plugin  # noqa: F401  (fixture)

from rdpkit.cli import cli
from rdpkit.store import Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.runner import run_sweep, sweep_trials

RDPKIT = [sys.executable, "-m", "rdpkit"]


def toy_sweep(levels: list[int], seeds: list[int], delay: float = 0.0, label: str = "toy") -> dict:
    return {
        "sweep": {"name": "toy", "seeds": seeds},
        "data": {"source": "digits", "limit": 200},
        "codec": [{"name": f"toy-quant,dither=true,delay={delay}", "label": label, "grid": {"levels": levels}, "fit": {"steps": 1}}],
        "evaluate": {"perception": "toy-mean-gap", "samples": 4},
    }


def _toml(d: dict) -> str:
    c = d["codec"][0]
    return (f"[sweep]\nname = \"toy\"\nseeds = {d['sweep']['seeds']}\n[data]\nsource = \"digits\"\nlimit = 200\n"
            f"[[codec]]\nname = {json.dumps(c['name'])}\nlabel = {json.dumps(c['label'])}\ngrid = {{ levels = {c['grid']['levels']} }}\n"
            "fit = { steps = 1 }\n[evaluate]\nperception = \"toy-mean-gap\"\nsamples = 4\n")


def _markers(folder: Path) -> dict[str, int]:
    return {f.name: len(f.read_text().split()) for f in folder.iterdir()}


def _marker_name(config: dict) -> str:
    """The marker file of a trial (its stored configuration)."""
    return f"levels{config['options']['levels']}-seed{config['seed']}"


def test_sigkill_mid_sweep_then_resume_loses_nothing_and_reruns_nothing(tmp_path, toy_plugin):
    spec = toy_sweep([2, 3, 4, 5], [0, 1], delay=1.0)
    (tmp_path / "sweep.toml").write_text(_toml(spec))
    store = tmp_path / "s.sqlite"
    cmd = [*RDPKIT, "sweep", str(tmp_path / "sweep.toml"), "--store", str(store), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    done: list = []
    while time.monotonic() < deadline and len(done) < 2:
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.05)
        if store.exists():
            with Store(store) as s:
                done = s.trials(status="done")
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, as a crash would
    proc.wait()
    with Store(store) as s:
        before = {t.key: t for t in s.trials()}
    finished_before = {k: t for k, t in before.items() if t.status == "done"}
    assert 2 <= len(finished_before) < 8, "the kill must land mid-sweep"
    assert any(t.status == "interrupted" for t in before.values()), "a trial was interrupted half-way, and is listed so"

    resumed = subprocess.run([*cmd, "--resume", "--json"], check=False, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    trials = sweep_trials(SweepConfig.from_dict(spec))
    with Store(store) as s:
        after = {t.key: t for t in s.trials()}
    assert set(after) == set(trials) and all(t.status == "done" for t in after.values())
    assert summary["already_done"] == len(finished_before) and summary["ran"] == 8 - len(finished_before)
    markers = _markers(toy_plugin)
    for key, t in finished_before.items():
        assert after[key].finished == t.finished and after[key].result == t.result, "a finished trial was run again"
        assert markers[_marker_name(t.config)] == 1
    for key, trial in trials.items():
        assert 1 <= markers[_marker_name(trial.identity())] <= (1 if key in finished_before else 2)
        assert after[key].result["key"] == key


def test_two_sweeps_on_one_store_share_the_trials(tmp_path, toy_plugin):
    spec = toy_sweep([2, 3, 4], [0, 1], delay=0.4)
    (tmp_path / "sweep.toml").write_text(_toml(spec))
    store = tmp_path / "s.sqlite"
    cmd = [*RDPKIT, "sweep", str(tmp_path / "sweep.toml"), "--store", str(store), "--workers", "1", "--quiet", "--resume", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with Store(store) as s:
        assert len(s.trials(status="done")) == 6 and not s.trials(status="running")
    assert _markers(toy_plugin) == {_marker_name(t.identity()): 1 for t in sweep_trials(SweepConfig.from_dict(spec)).values()}, "no trial ran twice"
    summaries = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert sum(s["ran"] for s in summaries) == 6


MEASURED = ("rate", "distortions", "divergences", "perception")


def test_local_pool_and_ray_give_the_same_results(tmp_path, toy_plugin):
    cfg = SweepConfig.from_dict(toy_sweep([2, 5], [0, 1]))
    results = {}
    for executor in ("local", "ray"):
        store = tmp_path / f"{executor}.sqlite"
        summary = run_sweep(cfg, store, executor=executor, workers=2, progress=False)
        assert summary.ran == 4 and summary.failed == 0
        with Store(store) as s:
            results[executor] = {t.key: {m: t.result[m] for m in MEASURED} for t in s.trials()}
    assert results["local"] == results["ray"]
    assert len({json.dumps(r["distortions"]) for r in results["local"].values()}) == 4, "seeds and settings must give different trials"


def test_results_and_report_commands(tmp_path, toy_plugin):
    label = "<script>alert(1)</script>"
    store = tmp_path / "s.sqlite"
    run_sweep(SweepConfig.from_dict(toy_sweep([2, 4, 8, 16], [0], label=label)), store, workers=1, progress=False)
    out = CliRunner().invoke(cli, ["results", "--store", str(store), "--json"])
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert len(rows) == 4 and all(r["status"] == "done" and r["config"]["label"] == label for r in rows)
    assert {"key", "config", "status", "rate", "distortions", "perception", "seconds"} <= set(rows[0])
    # rate from the bitstream grows with the number of levels, the error falls
    by_levels = sorted(rows, key=lambda r: r["config"]["options"]["levels"])
    assert [r["rate"]["bits_per_image"] for r in by_levels] == sorted(r["rate"]["bits_per_image"] for r in rows)
    assert [r["distortions"]["mse"]["mean"] for r in by_levels] == sorted((r["distortions"]["mse"]["mean"] for r in rows), reverse=True)
    assert rows[0]["components"]["codec"] == "rdpkit-toy 0.1", "each component's distribution and version"

    report = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "rep")])
    assert report.exit_code == 0, report.output
    page = (tmp_path / "rep" / "index.html").read_text()
    assert label not in page and "&lt;script&gt;" in page, "strings must be escaped in the HTML"
    assert page.count("data:image/png;base64,") == 3 and "src='http" not in page
    for name in ("sweep-rd.png", "sweep-pd.png", "sweep-samples.png", "results.csv", "settings.csv"):
        assert (tmp_path / "rep" / name).stat().st_size > 0

    missing = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_failing_trials_and_a_dead_worker_do_not_stop_the_sweep(tmp_path, toy_plugin):
    spec = toy_sweep([2], [0])
    spec["codec"].append({**spec["codec"][0], "label": "bug", "name": "toy-quant,dither=true,delay=-1.0"})  # time.sleep(-1) raises
    spec["codec"].append({**spec["codec"][0], "label": "crash", "name": "toy-quant,dither=true,crash=true"})
    spec["codec"].append({**spec["codec"][0], "label": "after", "grid": {"levels": [4]}})
    store = tmp_path / "s.sqlite"
    summary = run_sweep(SweepConfig.from_dict(spec), store, workers=1, progress=False)
    with Store(store) as s:
        status = {t.config["label"]: (t.status, t.error) for t in s.trials()}
    assert summary.ran == 2 and summary.failed == 2
    assert status["bug"][0] == "failed" and status["bug"][1].startswith("ValueError: sleep length must be non-negative")
    assert "Traceback" in status["bug"][1], "a plugin's bug keeps its traceback in the store"
    assert status["crash"][0] == "failed" and status["crash"][1].startswith("the worker running this trial died")
    assert status["toy"][0] == status["after"][0] == "done"


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
def test_killing_the_sweep_leaves_no_worker_behind(tmp_path, toy_plugin):
    spec = toy_sweep([2, 3, 4, 5], [0], delay=3.0)
    (tmp_path / "sweep.toml").write_text(_toml(spec))
    proc = subprocess.Popen([*RDPKIT, "sweep", str(tmp_path / "sweep.toml"), "--store", str(tmp_path / "s.sqlite"), "--workers", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, workers = time.monotonic() + 120, set()
    while time.monotonic() < deadline and len(_markers(toy_plugin)) < 2:  # both workers are inside a trial
        assert proc.poll() is None
        time.sleep(0.1)
    workers = _children(proc.pid)
    assert len(workers) >= 2, "the pool's workers (and its resource tracker) are children of the sweep"
    os.kill(proc.pid, signal.SIGKILL)  # the sweep alone, as an out-of-memory kill or a preemption does
    proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)], "workers outlived the sweep that owned them"
