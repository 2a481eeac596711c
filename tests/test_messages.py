"""One sentence, before any work: what a run cannot do is refused up front, not per trial, and the sentence fits the question."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest
import torch
from click.testing import CliRunner
from test_sweep_run import toy_sweep
from test_sweep_toy import toy_plugin  # noqa: F401  (fixture)

import rdpkit
from rdpkit.cli import cli
from rdpkit.store import Store
from rdpkit.trial.executors import check_executor


def refused(args: list[str]) -> str:
    out = CliRunner().invoke(cli, args)
    assert out.exception is None or isinstance(out.exception, SystemExit), f"{type(out.exception).__name__}: {out.exception}"
    assert out.exit_code == 2 and out.output.startswith("error: ") and "Traceback" not in out.output, out.output
    return " ".join(out.output.split())


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_a_ray_address_where_nothing_listens_is_one_sentence_within_seconds(address):
    start = time.perf_counter()
    with pytest.raises(rdpkit.InputError, match=r"no Ray cluster answers at .*nothing listens there.*ray start --head"):
        check_executor("ray", None, address)
    assert time.perf_counter() - start < 5


def test_the_sweep_command_refuses_an_unreachable_ray_address_before_any_work(tmp_path):
    message = refused(["sweep", "--preset", "digits-smoke", "--store", str(tmp_path / "s.sqlite"), "--executor", "ray", "--address", "127.0.0.1:1"])
    assert "no Ray cluster answers at '127.0.0.1:1'" in message
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_plane_on_a_gpu_this_machine_lacks_is_refused_before_any_trial(tmp_path):
    message = refused(["plane", "--data", "builtin:astronaut", "--size", "32", "--codec", "jpeg,quality=10", "--device", "cuda",
                       "--out", str(tmp_path / "plane")])
    assert "asks for a GPU, but torch sees none" in message
    assert not (tmp_path / "plane" / "plane.sqlite").exists(), "no failed trial left in a store"


def test_a_plane_seed_numpy_cannot_take_is_refused_before_any_trial(tmp_path):
    message = refused(["plane", "--data", "builtin:astronaut", "--size", "32", "--codec", "jpeg,quality=10", "--seed", str(2**32),
                       "--out", str(tmp_path / "plane"), "--executor", "inline"])
    assert "seed 4294967296 is out of range" in message
    assert not (tmp_path / "plane" / "plane.sqlite").exists()


def test_an_evaluate_seed_no_decoder_takes_is_refused_before_any_trial(tmp_path):
    message = refused(["evaluate", "--data", "builtin:astronaut", "--codec", "jpeg,quality=10", "--seed", str(2**64), "--features", "none",
                       "--distortion", "mse", "--out", str(tmp_path / "e"), "--executor", "inline"])
    assert "seed must be an integer from -2**63 to 2**64 - 1" in message
    assert not (tmp_path / "e" / "evaluate.sqlite").exists()


def test_evaluate_refuses_a_learnable_codec_that_is_not_trained_before_any_trial(tmp_path):
    pytest.importorskip("rdpkit_learned_codecs")
    store = tmp_path / "e.sqlite"
    message = refused(["evaluate", "--data", "builtin:astronaut", "--codec", "factorized,channels=8,latent_channels=8,lam=0.01",
                       "--features", "none", "--distortion", "mse", "--out", str(tmp_path / "e"), "--store", str(store), "--executor", "inline"])
    assert "needs training before it codes, and evaluate trains nothing" in message
    assert not store.exists(), "refused before the store is created: no empty store, no failed trial"


@pytest.mark.parametrize("args", [["evaluate", "--data", "builtin:astronaut"], ["plane", "--data", "builtin:astronaut", "--size", "32"]])
@pytest.mark.parametrize("codec, says", [("", "a codec.* must be a name such as 'jpeg', optionally with options ('jpeg,quality=30')"),
                                         ("quality=3", "starts with an option; put the name first, e.g. 'jpeg,quality=30'")])
def test_an_empty_or_nameless_codec_is_answered_with_codec_examples(tmp_path, args, codec, says):
    message = refused([*args, "--codec", codec, "--out", str(tmp_path / "out")])
    assert re.search(says.replace("(", r"\(").replace(")", r"\)"), message), message
    assert "mse" not in message and "lpips" not in message


def test_a_sigkilled_worker_fails_its_own_trial_only(tmp_path, toy_plugin):  # noqa: F811 (fixture)
    """Both trials in fit at once on two workers; one worker is killed: its trial fails, its sibling's finishes."""
    from rdpkit.sweep.config import SweepConfig
    from rdpkit.sweep.runner import run_sweep

    spec = toy_sweep([2, 3], [0], delay=4.0)
    store = tmp_path / "s.sqlite"
    running = threading.Thread(target=run_sweep, args=(SweepConfig.from_dict(spec), store), kwargs={"workers": 2, "progress": False})
    running.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(toy_plugin.iterdir())) < 2:  # each trial's worker writes its pid on entering fit
        time.sleep(0.05)
    victim = int((toy_plugin / "levels2-seed0").read_text().split()[0])
    os.kill(victim, signal.SIGKILL)
    running.join(180)
    with Store(store, readonly=True) as db:
        status = {t.config["options"]["levels"]: (t.status, t.error) for t in db.trials()}
    assert status[2][0] == "failed" and status[2][1] == "the worker running this trial died (killed by SIGKILL)", status
    assert status[3] == ("done", None), "the healthy sibling's trial finishes"
