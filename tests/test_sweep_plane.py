"""`rdpkit plane`: algorithms from folders or codec settings on the perception-distortion plane."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_sweep_toy import toy_plugin  # noqa: F401  (fixture)

import rdpkit
from rdpkit.cli import cli
from rdpkit.data import load_images, save_png
from rdpkit.degrade import degrade
from rdpkit.store import Store
from rdpkit.sweep.plane import (
    PlanePoint,
    load_matching,
    measure,
    plane_frame,
    plane_trials,
)
from rdpkit.trial import run_trials

NAMES = ["astronaut", "camera", "coffee", "chelsea"]


@pytest.fixture
def folders(tmp_path):
    x = load_images([f"builtin:{n}" for n in NAMES], size=32)
    outputs = {"identity": x, "blur": degrade(x, "blur:1.5", seed=0), "noise": degrade(x, "gaussian:0.1", seed=0)}
    for folder, batch in {"ref": x, **outputs}.items():
        for name, img in zip(NAMES, batch):
            save_png(img[None], tmp_path / folder / f"{name}.png")
    return tmp_path


def test_folders_are_matched_by_name_and_measured(folders, toy_plugin):
    ref, outs = load_matching(folders / "ref", {k: folders / k for k in ("identity", "blur", "noise")})
    assert ref.shape == (4, 3, 32, 32) and torch.equal(outs["identity"], ref)
    points = {p.name: p for p in measure(ref, outs, fr="mse", perception="toy-mean-gap")}
    for name, y in outs.items():
        per_image = ((ref - y) ** 2).flatten(1).mean(1).double().numpy()
        assert points[name].distortion == pytest.approx(per_image.mean(), rel=1e-6)
        assert points[name].distortion_stderr == pytest.approx(per_image.std(ddof=1) / 2, rel=1e-5)
        gap = abs(float(ref.double().flatten(1).mean(1).mean() - y.double().flatten(1).mean(1).mean()))
        assert points[name].perception == pytest.approx(gap, abs=1e-9)
    assert points["identity"].distortion == 0 and points["identity"].perception == 0
    df = plane_frame(list(points.values()))
    # On four photographs the mean-intensity gaps of blur and noise lie inside their intervals: identity beats them
    # in distortion but not, beyond the noise, in perception, so it dominates neither.
    assert df.set_index("name").admissible.to_dict() == {"identity": True, "blur": True, "noise": True}
    assert df.perception_ties.tolist() == [2, 2, 2]
    assert plane_frame([PlanePoint(p.name, p.distortion, p.distortion_stderr, p.perception, 0.0) for p in points.values()]).admissible.tolist() == [True, False, False], \
        "with exact perception values identity dominates both"


def test_a_trained_critic_measures_perception_on_the_plane(folders):
    ref, outs = load_matching(folders / "ref", {"noise": folders / "noise"})
    (point,) = measure(ref, outs, perception="wasserstein-critic,steps=3,hidden=8", progress=False)
    assert np.isfinite(point.perception) and point.perception_stderr >= 0


def test_a_missing_output_is_one_sentence(folders):
    (folders / "blur" / "coffee.png").unlink()
    with pytest.raises(rdpkit.InputError, match="has no output for reference image 'coffee'"):
        load_matching(folders / "ref", {"blur": folders / "blur"})


def test_admissible_set_with_and_without_rate():
    pts = [PlanePoint("a", 1.0, 0, 3.0, 0, 1.0), PlanePoint("b", 2.0, 0, 2.0, 0, 0.5), PlanePoint("c", 2.5, 0, 2.5, 0, 0.2)]
    df = plane_frame(pts).set_index("name")
    assert df.admissible.tolist() == [True, True, False]  # c is beaten by b on the plane...
    assert df.admissible_rdp.tolist() == [True, True, True]  # ...but needs the fewest bits


def test_jpeg_at_several_qualities_orders_rate_and_distortion(tmp_path):
    trials = plane_trials("builtin:" + ",".join(NAMES), ["jpeg,quality=10", "jpeg,quality=50", "jpeg,quality=90"], size=48)
    assert [t.label for t in trials] == ["jpeg,quality=10", "jpeg,quality=50", "jpeg,quality=90"]
    with Store(tmp_path / "p.sqlite") as db:
        summary = run_trials(trials, db, executor="inline", progress=False)
        points = [PlanePoint.of(t.label, t.load(db)) for t in trials]
    assert summary.ran == 3
    x = load_images([f"builtin:{n}" for n in NAMES], size=48)
    data = rdpkit.codec("jpeg", quality=50).encode(x).to_bytes()
    assert points[1].bpp == 8 * len(data) / (4 * 48 * 48), "rate from the bytes of the whole batch"
    assert [p.bpp for p in points] == sorted(p.bpp for p in points) and [p.distortion for p in points] == sorted((p.distortion for p in points), reverse=True)


def test_a_critic_that_refuses_the_size_is_refused_before_any_trial(tmp_path):
    """The README's former `--size 64 --perception niqe` (niqe needs 96×96): one sentence, before a trial runs or a store is written."""
    args = ["plane", "--data", "builtin:astronaut,coffee", "--size", "64", "--codec", "jpeg,quality=10", "--perception", "niqe",
            "--out", str(tmp_path / "plane"), "--executor", "inline"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "critic 'niqe' needs images of at least 96×96, but these are 64×64; raise --size." in result.output
    assert result.output.count("96×96") == 1 and not (tmp_path / "plane" / "plane.sqlite").exists()


def test_a_no_reference_critic_is_a_perception_index(folders):
    ref, outs = load_matching(folders / "ref", {"identity": folders / "identity", "blur": folders / "blur"})
    points = {p.name: p for p in measure(ref, outs, perception="niqe,patch=16", progress=False)}
    expected = rdpkit.critic("niqe", patch=16).score(outs["blur"]).double().mean()
    assert points["blur"].perception == pytest.approx(float(expected), rel=1e-6)


def test_plane_command_from_folders_and_from_codecs(folders, toy_plugin):
    args = ["plane", "--reference", str(folders / "ref"), "--outputs", f"blur={folders / 'blur'}", "--outputs", f"noise={folders / 'noise'}",
            "--perception", "toy-mean-gap", "--out", str(folders / "plane"), "--json", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["name"] for r in rows] == ["blur", "noise"] and all(r["admissible"] for r in rows)
    page = (folders / "plane" / "index.html").read_text()
    assert "data:image/png;base64," in page and (folders / "plane" / "plane.csv").exists()

    result = CliRunner().invoke(cli, ["plane", "--data", "builtin:astronaut,camera", "--size", "32", "--codec", "jpeg,quality=20",
                                      "--codec", "sq,levels=8", "--perception", "toy-mean-gap", "--out", str(folders / "p2"), "--json", "--quiet",
                                      "--executor", "inline"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {r["name"] for r in rows} == {"jpeg,quality=20", "sq,levels=8"} and all(r["bpp"] > 0 for r in rows)
    with Store(folders / "p2" / "plane.sqlite", readonly=True) as db:
        assert len(db.trials(kind="sweep", status="done")) == 2, "the plane's codec settings are sweep trials in a store"
    assert np.isfinite([r["distortion"] for r in rows]).all()

    bad = CliRunner().invoke(cli, ["plane", "--reference", str(folders / "ref"), "--outputs", "x", "--perception", "toy-mean-gap"])
    assert bad.exit_code == 2 and "--outputs NAME=FOLDER" in bad.output
