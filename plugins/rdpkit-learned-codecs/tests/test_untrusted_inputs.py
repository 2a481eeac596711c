"""Configurations run no code they name, and unreadable records or special files are refused (issue 23, items 8 and 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from rdpkit_learned_codecs.codecs import adapter
from rdpkit_learned_codecs.codecs.adapter import CompressAIProtocolCodec

import rdpkit
from rdpkit.errors import InputError, WeightsUnavailable
from rdpkit.options import TRUST_ENV, Component

HOSTILE = "import pathlib\npathlib.Path(__file__).with_name('ran').write_text('code ran')\ndef build():\n    raise SystemExit(0)\n"


@pytest.fixture
def untrusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ENV, raising=False)


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module beside the working directory that leaves a file behind when it is imported."""
    (tmp_path / "hostile_model.py").write_text(HOSTILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.usefixtures("untrusted")
@pytest.mark.parametrize("model", ["os:abort", "sys:exit", "hostile_model:build"])
def test_a_path_to_code_is_refused_unless_trusted_before_anything_is_imported(hostile, model):
    with pytest.raises(InputError, match="would import and run that code"):
        CompressAIProtocolCodec(model)
    with pytest.raises(InputError, match="would import and run that code"):
        Component.parse(f'compressai-model,model="{model}"').create("codec")
    assert not (hostile / "ran").exists() and "hostile_model" not in sys.modules


@pytest.mark.usefixtures("untrusted")
def test_models_offered_by_installed_distributions_need_no_trust(monkeypatch):
    assert CompressAIProtocolCodec("shipped-hyperprior").fingerprint == CompressAIProtocolCodec().fingerprint
    CompressAIProtocolCodec("rdpkit_learned_codecs.codecs.adapter:shipped_hyperprior")  # the path an installed distribution offers, as stores kept it
    offered = EntryPoint(name="their-net", value="rdpkit_learned_codecs.codecs.adapter:shipped_hyperprior", group=adapter.ENTRY_POINTS)
    monkeypatch.setattr(adapter, "entry_points", lambda group: [offered] if group == adapter.ENTRY_POINTS else [])
    assert "their-net" in adapter.offered_models()
    CompressAIProtocolCodec("their-net")
    with pytest.raises(InputError, match="no installed distribution offers a compressai-model called 'nope'; the models offered are shipped-hyperprior, their-net"):
        CompressAIProtocolCodec("nope")


def test_a_trusted_factory_that_exits_or_raises_anything_is_an_error(hostile, monkeypatch):
    monkeypatch.setenv(TRUST_ENV, "1")
    with pytest.raises(InputError, match="raised SystemExit"):
        CompressAIProtocolCodec("hostile_model:build")
    assert (hostile / "ran").exists(), "trusted: the module was imported"
    with pytest.raises(InputError, match="raised SystemExit"):
        CompressAIProtocolCodec("sys:exit")
    with pytest.raises(InputError, match="cannot import the model factory"):
        CompressAIProtocolCodec("no_such_module:build")


def _sweep(folder: Path, model: str) -> Path:
    (folder / "sweep.toml").write_text(f'[sweep]\nname = "t"\n[data]\nsource = "digits"\nlimit = 8\n[[codec]]\nname = {f"compressai-model,model={chr(34)}{model}{chr(34)},stride=8"!r}\n')
    return folder / "sweep.toml"


def test_a_sweep_file_someone_sent_runs_none_of_its_code(hostile):
    env = {k: v for k, v in os.environ.items() if k != TRUST_ENV}
    run = subprocess.run([sys.executable, "-m", "rdpkit", "sweep", str(_sweep(hostile, "hostile_model:build")), "--store", "s.sqlite",
                          "--executor", "inline", "--quiet"], check=False, cwd=hostile, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "would import and run that code" in run.stdout + run.stderr, run.stdout + run.stderr
    assert not (hostile / "ran").exists()

    trusted = subprocess.run([sys.executable, "-m", "rdpkit", "sweep", str(_sweep(hostile, "sys:exit")), "--store", "t.sqlite",
                              "--executor", "inline", "--quiet", "--trust-code"], check=False, cwd=hostile, env=env, capture_output=True, text=True, timeout=300)
    assert trusted.returncode != 0 and "SystemExit" in trusted.stdout + trusted.stderr, trusted.stdout + trusted.stderr


# -- item 10: records and special files ----------------------------------------------------------------------

@pytest.mark.parametrize("record", ["folder", "fifo", "dangling link"])
def test_a_record_that_exists_but_cannot_be_read_is_refused(tiny_codecs, tmp_path, record):
    path = tmp_path / "model.safetensors"
    tiny_codecs["factorized"].save(path)
    beside = path.with_suffix(".json")
    beside.unlink()
    {"folder": beside.mkdir, "fifo": lambda: os.mkfifo(beside), "dangling link": lambda: beside.symlink_to(tmp_path / "nowhere")}[record]()
    with pytest.raises(WeightsUnavailable, match="exists but is .*, not a readable file, so 'model.safetensors' cannot be verified"):
        rdpkit.codec("factorized", weights=str(path))


def test_special_files_and_empty_paths_are_named_as_they_are(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(WeightsUnavailable, match="is a FIFO, not a regular file"):
        rdpkit.codec("factorized", weights=str(fifo))
    with pytest.raises(WeightsUnavailable, match="path is empty"):
        rdpkit.codec("factorized", weights="")
    pth = tmp_path / "net.pth"
    os.mkfifo(pth)
    for weights, match in ((str(pth), "is a FIFO, not a regular file"), ("", "path is empty")):
        with pytest.raises(WeightsUnavailable, match=match):
            CompressAIProtocolCodec(weights=weights)


def test_weights_that_decode_to_no_number_are_refused_in_one_sentence():
    """Found by the models fuzz target: a model file whose synthesis weights were changed (to other values, record
    re-signed) decoded NaN pixels, which clamping keeps; the decoder names the damaged weights instead."""
    import torch

    from rdpkit.errors import WeightsUnavailable

    codec = rdpkit.codec("factorized", quality=1)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    data = codec.encode(x).to_bytes()
    with torch.no_grad():
        next(codec.model.g_s.parameters()).fill_(float("nan"))
    with pytest.raises(WeightsUnavailable, match="decoded pixels that are not numbers; its weights are damaged"):
        codec.decode(data)


def test_weights_that_encode_to_no_number_are_refused_in_one_sentence():
    """Found by the models fuzz target (seed 2): NaN analysis weights gave NaN latents, cast to integers with a numpy warning."""
    import torch

    from rdpkit.errors import WeightsUnavailable

    codec = rdpkit.codec("hyperprior", quality=1)
    with torch.no_grad():
        next(codec.model.g_a.parameters()).fill_(float("nan"))
    with pytest.raises(WeightsUnavailable, match="latent values that are not numbers; its weights are damaged"):
        codec.encode(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
