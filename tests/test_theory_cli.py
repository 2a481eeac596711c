"""`rdpkit theory bernoulli` and `rdpkit theory solve`: files, JSON, and one-sentence errors."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from rdpkit.cli import cli
from rdpkit.theory import bernoulli_rd, bernoulli_rdp, solve_rdp


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_bernoulli_writes_figures_and_a_csv_of_the_closed_form(tmp_path):
    res = run("theory", "bernoulli", "--p", "0.1", "--P", "0,0.02,0.05", "--points", "50", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    for name in ("bernoulli-rd.png", "bernoulli-rd.svg", "bernoulli-rdp.png", "bernoulli-rdp.svg"):
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "bernoulli-rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((tmp_path / "bernoulli-rdp.csv").open()))
    assert {r["P"] for r in rows} == {"0.0", "0.02", "0.05", "inf"} and len(rows) == 4 * 50
    for r in rows:
        D, P = float(r["D"]), float(r["P"])
        expected = bernoulli_rd(D, 0.1) if math.isinf(P) else bernoulli_rdp(D, P, 0.1)
        assert float(r["rate_bits"]) == pytest.approx(float(expected), abs=1e-8)


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".txt", ".json"])
def test_solve_json_reads_every_file_format(tmp_path, suffix):
    source, cost = np.array([0.5, 0.3, 0.2]), np.array([[0, 1, 4], [1, 0, 1], [4, 1, 0]], dtype=float)
    paths = []
    for name, array in (("source", source), ("cost", cost)):
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".npy":
            np.save(path, array)
        elif suffix == ".json":
            path.write_text(json.dumps(array.tolist()))
        else:
            np.savetxt(path, np.atleast_2d(array), delimiter="," if suffix == ".csv" else " ")
        paths.append(str(path))
    res = run("theory", "solve", "--source", paths[0], "--distortion", paths[1], "--perception", "kl", "--D", "0.3", "--P", "0.01", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["rate"] == pytest.approx(solve_rdp(source, cost, 0.3, 0.01, "kl").rate, abs=1e-6)
    assert np.allclose(np.sum(out["channel"], axis=1), 1) and out["status"] == "optimal"


def test_solve_prints_rate_and_channel_for_people(tmp_path):
    (tmp_path / "s.json").write_text("[0.9, 0.1]")
    res = run("theory", "solve", "--source", str(tmp_path / "s.json"), "--distortion", "hamming", "--D", "0.05", "--P", "0.02")
    assert res.exit_code == 0, res.output
    assert f"{float(bernoulli_rdp(0.05, 0.02, 0.1)):.4f}" in res.output and "optimal channel" in res.output


@pytest.mark.parametrize(
    ("source", "args", "message"),
    [
        ("[0.5, 0.6]", ["--D", "0.1"], "sums to 1.1"),
        ("[0.5, 0.5]", ["--D", "-0.1"], "non-negative"),
        ("[0.5, 0.5]", ["--D", "0.1", "--distortion", "missing.npy"], "does not exist"),
        ("[[0.5], [0.5", ["--D", "0.1"], "cannot read the source pmf"),
    ],
)
def test_solve_errors_are_one_sentence(tmp_path, source, args, message):
    (tmp_path / "s.json").write_text(source)
    if "--distortion" not in args:
        args = [*args, "--distortion", "hamming"]
    res = run("theory", "solve", "--source", str(tmp_path / "s.json"), *args)
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("p", ["1.5", "0", "1", "nan"])
def test_bernoulli_rejects_a_degenerate_probability_and_writes_nothing(tmp_path, p):
    res = run("theory", "bernoulli", "--p", p, "--out", str(tmp_path / "out"))
    assert res.exit_code == 2 and "strictly between 0 and 1" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists(), "no partial figure may be left behind"


def test_solve_offers_every_perception_the_solver_supports():
    from rdpkit.cli.theory import solve_cmd
    from rdpkit.theory.divergences import PERCEPTIONS

    option = next(p for p in solve_cmd.params if p.name == "perception")
    assert list(option.type.choices) == list(PERCEPTIONS)
