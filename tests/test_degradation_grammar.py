"""Degradations are components (``jpeg,quality=10``) read by the one option grammar, ``jpeg:10`` is short for them;
`rdpkit score` and `rdpkit recover` take several images like `rdpkit audit`, and `score` bounds its size up front."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rdpkit.cli import cli
from rdpkit.degrade import OPTIONS, degrade, parse
from rdpkit.errors import InputError
from rdpkit.options import Component


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(("short", "long"), [
    ("jpeg:10", "jpeg,quality=10"), ("gaussian:0.1", "gaussian,sigma=0.1"), ("blur:2", "blur,sigma=2"),
    ("contrast:0.5", "contrast,factor=0.5"), ("shift:1", "shift,pixels=1"), ("noise", "noise"), ("gaussian:.5", "gaussian,sigma=0.5"),
])
def test_the_short_form_is_the_component_with_its_one_option(short, long):
    assert parse(short) == parse(long) == Component.parse(long)
    x = torch.rand(2, 3, 24, 24)
    assert torch.equal(degrade(x, short, seed=4), degrade(x, long, seed=4))


@given(kind=st.sampled_from(sorted(OPTIONS)), level=st.integers(1, 95))
def test_a_parsed_degradation_reads_back_as_itself(kind, level):
    c = parse(f"{kind}:{level}")
    assert parse(str(c)) == c and str(c) == f"{kind},{OPTIONS[kind][0]}={level}"


@pytest.mark.parametrize(("spec", "message"), [
    ("jpg,quality=10", "unknown degradation 'jpg,quality=10'; did you mean 'jpeg'?"),
    ("jpeg,qualty=10", "has no option 'qualty'; did you mean 'quality'?"),
    ("blur,size=2", "has no option 'size'; blur takes only sigma, e.g. blur,sigma=2."),
    ("jpeg", "needs its quality, e.g. jpeg,quality=10 (or jpeg:10)."),
    ("jpeg,quality=high", "needs a numeric level"),
    ("jpeg,quality=[5,10]", "must be one number"),
    ("noise:3", "noise takes no level"),
    ("jpeg,quality=0", "JPEG quality must lie in 1..100"),
    ("blur,sigma=-1", "non-negative"),
    ("wobble", "write one of gaussian,sigma=S | blur,sigma=S"),
])
def test_mistakes_are_one_sentence_naming_the_fix(spec, message):
    with pytest.raises(InputError, match="^[^\n]*$") as info:
        parse(spec)
    assert message in str(info.value)


def _rows(res) -> list[dict]:
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.output.splitlines()]


def test_score_takes_both_spellings_and_several_images():
    rows = _rows(run("score", "--size", "32", "--distortion", "mse", "--image", "builtin:astronaut", "--image", "builtin:coffee,camera",
                     "--degrade", "jpeg,quality=10", "--degrade", "jpeg:10", "--json"))
    values = {(r["image"], r["degradation"]): r["value"] for r in rows if r["distortion"] == "mse"}
    assert {image for image, _ in values} == {"builtin:astronaut", "builtin:coffee", "builtin:camera"}
    for image in ("builtin:astronaut", "builtin:coffee", "builtin:camera"):
        assert values[(image, "jpeg,quality=10")] == values[(image, "jpeg:10")] > 0
    assert values[("builtin:astronaut", "jpeg:10")] != values[("builtin:coffee", "jpeg:10")]


def test_score_refuses_a_bad_degradation_before_any_work():
    res = run("score", "--size", "32", "--distortion", "mse", "--degrade", "blur,sigm=1")
    assert res.exit_code == 2 and "did you mean 'sigma'?" in res.output


def test_score_bounds_the_size_up_front_and_the_bound_can_be_raised(monkeypatch):
    import rdpkit.data

    def never(*args, **kwargs):
        raise AssertionError("an image was loaded")

    monkeypatch.setattr(rdpkit.data, "load_image", never)
    res = run("score", "--size", "12000", "--distortion", "mse")
    assert res.exit_code == 2 and "--size 12000 is larger than --max-size 2048" in res.output and "--max-size 12000" in res.output
    monkeypatch.undo()
    assert run("score", "--size", "40", "--max-size", "32", "--distortion", "mse").exit_code == 2
    assert _rows(run("score", "--size", "40", "--max-size", "40", "--distortion", "mse", "--degrade", "blur:1", "--json"))


def test_recover_takes_several_images_and_the_long_spelling(tmp_path):
    out = tmp_path / "out"
    rows = _rows(run("recover", "--distortion", "mse", "--image", "builtin:astronaut,coffee", "--init", "blur,sigma=2", "--size", "32",
                     "--steps", "5", "--device", "cpu", "--out", str(out), "--json"))
    assert [(r["image"], r["init"]) for r in rows] == [("builtin:astronaut", "blur,sigma=2"), ("builtin:coffee", "blur,sigma=2")]
    assert sorted(p.name for p in out.iterdir()) == ["1-astronaut", "2-coffee", "recover.sqlite"]
    assert all((out / folder / "result.json").is_file() for folder in ("1-astronaut", "2-coffee"))


def test_recover_refuses_a_bad_initialisation_before_any_work(tmp_path):
    res = run("recover", "--distortion", "mse", "--init", "jpeg,qualty=10", "--out", str(tmp_path / "out"))
    assert res.exit_code == 2 and "did you mean 'quality'?" in res.output
    assert not (tmp_path / "out").exists()
