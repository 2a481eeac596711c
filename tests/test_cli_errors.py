"""Bad input on the command line: one sentence, exit status 2, nothing lost and nothing half-written."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from rdpkit.cli import cli
from rdpkit.recovery.audit import audit
from rdpkit.store import Store

DATA = Path(__file__).parent / "data"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_sentence(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output, result.output


@pytest.fixture
def store(tmp_path) -> Path:
    """A store holding two finished recovery runs."""
    path = tmp_path / "audit.sqlite"
    audit(["mse"], images=["builtin:astronaut"], inits=["noise", "blur:2"], size=32, steps=10, device="cpu", store=path,
          executor="inline", progress=False)
    return path


@pytest.mark.parametrize("option", ["--report", "--csv", "--gallery"])
def test_an_output_that_is_the_store_is_refused_and_the_store_survives(store, option):
    before = store.read_bytes()
    result = run("audit", "--distortion", "mse", "--image", "builtin:astronaut", "--init", "noise", "--size", "32", "--steps", "10",
                 "--device", "cpu", "--store", str(store), option, str(store))
    one_sentence(result, "is the result store; writing there would destroy every stored result")
    assert store.read_bytes() == before
    with Store(store, readonly=True) as db:
        assert len(db.trials(status="done")) == 2


def test_reading_commands_leave_other_files_alone(tmp_path):
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
    before = other.read_bytes()
    for command in (["results"], ["report", "--out", str(tmp_path / "r")]):
        one_sentence(run(*command, "--store", str(other)), "not an rdpkit result store")
    assert other.read_bytes() == before and not (tmp_path / "r").exists()


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_a_worker_count_below_one_is_refused_before_a_store_is_made(tmp_path, workers):
    store = tmp_path / "s.sqlite"
    result = run("audit", "--distortion", "mse", "--store", str(store), "--workers", workers)
    assert result.exit_code == 2 and "--workers" in result.output and "Traceback" not in result.output
    assert not store.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("command", [["recover", "--distortion", "mse"], ["audit", "--distortion", "mse"]])
@pytest.mark.parametrize("device, message", [("cuda", "asks for a GPU, but torch sees none"), ("bogus", "'bogus' is not a torch device")])
def test_a_device_that_is_not_here_is_refused_before_any_work(tmp_path, command, device, message):
    result = run(*command, "--device", device, "--store", str(tmp_path / "s.sqlite"), "--size", "32")
    one_sentence(result, message)
    assert not (tmp_path / "s.sqlite").exists()


def test_score_on_tiny_images_and_a_folder_as_an_image(tmp_path):
    result = run("score", "--size", "5", "--distortion", "mse", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {r["degradation"] for r in rows} >= {"blur:1.5", "jpeg:20"} and all("value" in r for r in rows)
    one_sentence(run("recover", "--distortion", "mse", "--image", str(tmp_path)), "holds no image files")  # a folder is several images, as in audit


def test_the_psnr_threshold_must_be_a_number():
    one_sentence(run("recover", "--distortion", "mse", "--psnr-threshold", "nan"), "the PSNR threshold must be a finite number")


def test_claims_of_a_killed_run_are_listed_as_interrupted(tmp_path):
    store = tmp_path / "s.sqlite"
    shutil.copy(DATA / "store-v1.sqlite", store)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True).stdout.strip()
    with sqlite3.connect(store) as db:  # as a run killed mid-trial leaves it: a claim by a process that is gone
        db.execute("UPDATE trials SET status = 'running', owner = ?, result = NULL WHERE kind = 'sweep'", (f"{socket.gethostname()}:{gone}",))
    rows = [json.loads(line) for line in run("results", "--store", str(store), "--json").output.splitlines()]
    assert sorted(r["status"] for r in rows) == ["done", "done", "interrupted", "interrupted", "interrupted"]


def test_list_says_what_each_divergence_measures():
    rows = [json.loads(line) for line in run("list", "divergence", "--json").output.splitlines()]
    assert rows and all(isinstance(r["quantity"], str) and r["quantity"] for r in rows)
    assert {r["name"]: r["quantity"] for r in rows}["wasserstein-critic"] == "W1"


def test_score_exits_2_when_a_named_distortion_cannot_run():
    """Like every other command: the distortion asked for (ms-ssim needs 161×161) cannot run, so the command fails, after its table."""
    result = run("score", "--size", "64", "--distortion", "mse", "--distortion", "ms-ssim")
    assert result.exit_code == 2 and "ms-ssim" in result.output and "could not run" in result.output
    assert run("score", "--size", "64", "--distortion", "mse").exit_code == 0


@pytest.mark.parametrize(("args", "hint"), [(["list", "divergences"], "did you mean 'divergence'?"),
                                             (["evaluate", "--method", "pchp"], "did you mean 'pchip'?"),
                                             (["theory", "solve", "--perception", "hellinger2"], "did you mean 'hellinger'?")])
def test_a_choice_that_is_not_one_names_the_closest(args, hint):
    one_sentence(run(*args), hint)


def test_a_choice_close_to_none_is_refused_without_a_guess():
    result = run("list", "zzz")
    one_sentence(result, "'zzz' is not one of 'distortion'")
    assert "did you mean" not in result.output
