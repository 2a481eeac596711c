"""The command line: JSON for scripts, one-sentence errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from rdpkit import hookimpl
from rdpkit.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_plugins_json_names_the_builtin_distribution():
    res = run("plugins", "--json")
    assert res.exit_code == 0
    recs = {r["name"]: r for r in map(json.loads, res.output.splitlines())}
    assert recs["builtin"]["distribution"] == "rdpkit" and "distortion:ssim" in recs["builtin"]["registered"]


def test_list_json_has_metadata():
    res = run("list", "distortion", "--json")
    infos = {i["name"]: i for i in map(json.loads, res.output.splitlines())}
    assert infos["ms-ssim"]["differentiable"] is True and infos["ms-ssim"]["qualified_name"] == "rdpkit:ms-ssim"


def test_score_json_values_are_consistent(tmp_path):
    res = run("score", "--size", "64", "--distortion", "mse", "--distortion", "ssim", "--degrade", "gaussian:0.1", "--degrade", "blur:1", "--json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    values = {(r["distortion"], r["degradation"]): r["value"] for r in rows}
    psnr = values[("psnr (dB, higher is better)", "gaussian:0.1")]
    assert abs(10 ** (-psnr / 10) - values[("mse", "gaussian:0.1")]) < 1e-6  # PSNR = −10·log10(MSE)
    assert all(v >= 0 for (name, _), v in values.items() if name != "psnr (dB, higher is better)")


def test_errors_are_one_line_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "rdpkit", "score", "--distortion", "ssmi"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown distortion 'ssmi'; did you mean 'ssim' or 'ms-ssim'?" or "did you mean 'ssim'" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


class Broken:
    """A plugin whose hook raises."""

    @hookimpl
    def rdpkit_distortions(self):
        raise RuntimeError("kaput")


def test_plugins_counts_per_kind_and_list_says_which_plugins_failed(monkeypatch):
    import rdpkit
    from rdpkit.testing import fresh_registry

    registry = fresh_registry()
    registry.register(Broken(), "broken", distribution="rdpkit-broken")
    monkeypatch.setattr(rdpkit.registry, "_default", registry)
    plugins = run("plugins")
    assert "3 distortions, 13 divergences, 3 codecs, 3 critics" in plugins.output and "distortion:ssim" not in plugins.output
    assert "distortion:ssim" in run("plugins", "--verbose").output
    listing = run("list")
    assert listing.exit_code == 0 and "1 plugin(s) did not load (broken); `rdpkit plugins` says why." in listing.output
    assert "kaput" in run("plugins").output


def test_plugins_name_a_dependency_whose_licence_restricts_use():
    import importlib.util

    if importlib.util.find_spec("rdpkit_pyiqa") is None or importlib.util.find_spec("pyiqa") is None:
        import pytest

        pytest.skip("rdpkit-pyiqa is not installed (make test WITHOUT=rdpkit-pyiqa)")
    recs = {r["name"]: r for r in map(json.loads, run("plugins", "--json").output.splitlines())}
    assert recs["pyiqa"]["licence"].startswith("MIT (installs pyiqa: PolyForm-Noncommercial")
    assert recs["builtin"]["licence"] == "MIT"
