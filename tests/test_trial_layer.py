"""The trial layer under every harness: stores of the previous schema, the executors, names rdpkit owns, no import cycles."""

from __future__ import annotations

import ast
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from installed import install_plugin

import rdpkit
from rdpkit.cli import cli
from rdpkit.degrade import degrade
from rdpkit.recovery.audit import audit
from rdpkit.store import SCHEMA_VERSION, Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.report import results_frame
from rdpkit.sweep.runner import run_sweep

DATA = Path(__file__).parent / "data"
RDPKIT = [sys.executable, "-m", "rdpkit"]
#: What tests/data/make_store_v1.py ran with the code before the trial layer, in today's words.
V1_AUDIT = dict(distortions=["mse", "ssim"], images=["builtin:astronaut"], inits=["noise"], size=32, steps=30, device="cpu", progress=False)
V1_SWEEP = {
    "sweep": {"name": "v1", "seeds": [0]},
    "data": {"source": "digits", "limit": 64},
    "codec": [{"name": "sq", "grid": {"levels": [4, 8]}}, {"name": "jpeg,quality=50", "label": "jpeg q50"}],
    "evaluate": {"distortions": ["mse"], "perception": "wasserstein-sliced", "samples": 4},
}


def test_a_store_of_schema_1_reads_without_being_changed(tmp_path):
    before = (DATA / "store-v1.sqlite").read_bytes()
    with Store(DATA / "store-v1.sqlite", readonly=True) as db:
        assert db.schema == 1
        frame = results_frame(db)
        assert sorted(frame.label) == ["jpeg q50", "sq", "sq"] and (frame.perception_name == "wasserstein-sliced").all()
        assert frame.distortion.notna().all() and frame.rate_bits.gt(0).all()
    out = CliRunner().invoke(cli, ["results", "--store", str(DATA / "store-v1.sqlite"), "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert sorted(r["kind"] for r in rows) == ["recovery", "recovery", "sweep", "sweep", "sweep"]
    report = CliRunner().invoke(cli, ["report", "--store", str(DATA / "store-v1.sqlite"), "--out", str(tmp_path / "rep")])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "rep" / "index.html").exists() and "recovered" in (tmp_path / "rep" / "audit.html").read_text()
    assert (DATA / "store-v1.sqlite").read_bytes() == before, "reading must not change the file"


def test_a_store_of_schema_1_is_upgraded_and_its_trials_are_found_again(tmp_path):
    store = tmp_path / "v1.sqlite"
    shutil.copy(DATA / "store-v1.sqlite", store)
    again = audit(store=store, **V1_AUDIT)
    assert (again.ran, again.reused) == (0, 2), "the recovery runs of the old store are the same trials"
    summary = run_sweep(SweepConfig.from_dict(V1_SWEEP), store, progress=False)
    assert (summary.already_done, summary.ran) == (3, 0), "so are the sweep trials"
    with Store(store) as db:
        assert db.schema == SCHEMA_VERSION and len(db.trials()) == 5
        assert all(len(db.artifact_names(t.key)) >= 2 for t in db.trials()), "artifacts follow their trials' new keys"


def test_a_store_of_a_newer_schema_or_another_application_is_refused_in_one_sentence(tmp_path):
    newer = tmp_path / "newer.sqlite"
    Store(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(rdpkit.InputError, match="written by a newer rdpkit"):
        Store(newer)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE people (name TEXT)")
    before = other.read_bytes()
    for readonly in (True, False):
        with pytest.raises(rdpkit.InputError, match="not an rdpkit result store"):
            Store(other, readonly=readonly)
    assert other.read_bytes() == before and not Path(f"{other}-wal").exists(), "another application's database is left as it was"
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    out = CliRunner().invoke(cli, ["results", "--store", str(empty)])
    assert out.exit_code == 2 and "empty file, not an rdpkit result store" in out.output and empty.stat().st_size == 0


def test_the_audit_on_ray_gives_the_verdicts_of_the_local_pool(tmp_path):
    runs = {ex: audit(store=tmp_path / f"{ex}.sqlite", executor=ex, workers=2, **V1_AUDIT) for ex in ("local", "ray")}
    assert runs["local"].ran == runs["ray"].ran == 2
    verdicts = {ex: [(r.distortion, r.verdict.label, r.psnr) for r in a.results] for ex, a in runs.items()}
    assert verdicts["local"] == verdicts["ray"]


def test_force_resets_the_trials_instead_of_failing_them(tmp_path):
    first = audit(store=tmp_path / "s.sqlite", executor="inline", **V1_AUDIT)
    forced = audit(store=tmp_path / "s.sqlite", executor="inline", force=True, **V1_AUDIT)
    assert forced.ran == 2 and forced.reused == 0 and [r.psnr for r in forced.results] == [r.psnr for r in first.results]
    with Store(tmp_path / "s.sqlite") as db:
        assert {t.status for t in db.trials()} == {"done"} and all(t.error is None for t in db.trials())


@pytest.fixture
def impostor(tmp_path, monkeypatch):
    """An installed plugin that registers `mse` too."""
    return install_plugin(monkeypatch, tmp_path / "site", "rdpkit-impostor", "impostor", "impostor")


def test_a_plugin_cannot_take_over_a_name_of_rdpkit(impostor):
    registry = rdpkit.get_registry()
    assert registry.info("distortion", "mse").distribution == "rdpkit"
    assert registry.info("distortion", "rdpkit-impostor:mse").distribution == "rdpkit-impostor"
    assert {"mse", "rdpkit-impostor:mse"} <= set(registry.names("distortion"))
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    y = (x + 0.1).clamp(0, 1)
    assert float(rdpkit.distortion("rdpkit-impostor:mse")(x, y)[0]) == pytest.approx(2 * float(rdpkit.distortion("mse")(x, y)[0]))
    plugins = subprocess.run([*RDPKIT, "plugins", "--json"], capture_output=True, text=True, check=True)
    record = next(json.loads(line) for line in plugins.stdout.splitlines() if json.loads(line)["name"] == "impostor")
    assert record["status"] == "loaded" and "a name of rdpkit's own" in record["problems"][0] and record["licence"] == "MIT"
    listing = subprocess.run([*RDPKIT, "list", "distortion"], capture_output=True, text=True, check=True)
    assert "rdpkit-impostor:mse" in listing.stdout and "note: plugin impostor" in listing.stdout
    score = subprocess.run([*RDPKIT, "score", "--distortion", "mse", "--size", "32", "--json"], capture_output=True, text=True)
    assert score.returncode == 0, score.stderr
    values = [json.loads(line) for line in score.stdout.splitlines() if json.loads(line)["distortion"] == "mse"]
    x = rdpkit.load_image("builtin:astronaut", size=32)
    blur = degrade(x, "blur:1.5")
    assert next(v["value"] for v in values if v["degradation"] == "blur:1.5") == pytest.approx(float(((x - blur) ** 2).mean()), rel=1e-5)


@pytest.mark.slow
def test_the_digits_smoke_preset_runs_with_a_plugin_that_registers_mse(impostor, tmp_path):
    store = tmp_path / "s.sqlite"
    run = subprocess.run([*RDPKIT, "sweep", "--preset", "digits-smoke", "--store", str(store), "--json", "--quiet"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["ran"] == 4
    with Store(store, readonly=True) as db:
        components = [t.result["components"] for t in db.trials()]
    assert all(c["distortion:rdpkit:mse"]["distribution"] == "rdpkit" for c in components)


def test_recover_a_deep_metric_with_options_from_the_command_line(tmp_path):
    out = CliRunner().invoke(cli, ["recover", "--distortion", "lpips-alex,pretrained=false", "--size", "32", "--steps", "20", "--device", "cpu",
                                   "--out", str(tmp_path / "r"), "--json"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.output)
    assert record["distortion"] == "lpips-alex,pretrained=false" and record["options"] == {"pretrained": False} and record["steps"] == 20
    assert record["components"]["distortion"]["distribution"] == "rdpkit-lpips"


def _imports(path: Path, package: str) -> set[str]:
    """The rdpkit modules a module imports anywhere (functions included), outside `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.ImportFrom | ast.Import):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rdpkit")}
            continue
        base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
        module = ".".join([*base, *([node.module] if node.module else [])]) if node.level else node.module or ""
        if module.startswith("rdpkit"):
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}
    return found


def test_no_module_of_rdpkit_imports_one_that_imports_it():
    root = Path(rdpkit.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else ".".join(parts[:-1])
        modules[name] = (path, package)
    graph = {name: {m for m in _imports(path, package) if m in modules and m != name} for name, (path, package) in modules.items()}
    # A package's __init__ re-exporting its own submodules is not a cycle: drop package → own child edges.
    graph = {a: {b for b in bs if b.rpartition(".")[0] != a} for a, bs in graph.items()}
    cycles = _cycles(graph)
    assert not cycles, f"modules that import each other (directly or through others): {cycles}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out
