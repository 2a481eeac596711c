"""A file of a set that does not read is left out, named with why, by every harness (issue 23, item 13).

`rdpkit evaluate` does it in tests/test_dataset_checks.py; here the sweep (and the P-D plane on
--data) and `rdpkit judge`, through the one check (`rdpkit.datasets.readable`): every image read
once before any trial, a `SkippedImage` warning (a ``warning:`` line on the command line) for each
file left out, one sentence when none is left. Judge drops the human judgments of a skipped image
and its report says how many.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import rdpkit
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.datasets import SkippedImage
from rdpkit.judge import LAYOUTS, make_fixture
from rdpkit.judge.report import write
from rdpkit.judge.run import judge
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.plane import plane_trials
from rdpkit.sweep.runner import run_sweep
from rdpkit.sweep.trial import dataset

TOML = """
[data]
source = "{folder}"
size = 16
split = [0, 0, 1]

[[codec]]
name = "jpeg"
grid = {{ quality = [30] }}

[evaluate]
distortions = ["mse"]
divergences = []
perception = "wasserstein-sliced"
samples = 2
"""


def _folder(folder: Path, good: int = 3) -> dict[str, str]:
    """`good` photographs and two files that do not read in `folder`: their names → what their sentence says."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(("astronaut", "coffee", "chelsea")[:good]):
        save_png(load_image(f"builtin:{name}", size=24), folder / f"{i}.png")
    (folder / "text.png").write_text("not an image")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    return {"text.png": "cannot read", "loop.png": "symbolic link"}


def _config(folder: Path) -> SweepConfig:
    """The sweep of TOML on `folder`, written beside it as sweep.toml for the command."""
    path = folder.parent / "sweep.toml"
    path.write_text(TOML.format(folder=folder))
    return SweepConfig.from_toml(path)


def test_a_sweep_leaves_out_each_file_that_does_not_read_and_runs_on_the_rest(tmp_path):
    bad = _folder(tmp_path / "images")
    config = _config(tmp_path / "images")
    with pytest.warns(SkippedImage) as caught:
        summary = run_sweep(config, tmp_path / "s.sqlite", executor="inline", progress=False)
    said = [str(w.message) for w in caught if issubclass(w.category, SkippedImage)]
    assert len(said) == len(bad) and all(any(name in s and why in s for s in said) for name, why in bad.items()), said
    assert (summary.ran, summary.failed) == (1, 0)
    assert dataset(config.data)[2].shape[0] == 3, "the trial codes the three photographs"


def test_the_sweep_command_says_each_skipped_file_in_one_line(tmp_path):
    _folder(tmp_path / "images")
    _config(tmp_path / "images")
    out = CliRunner().invoke(cli, ["sweep", str(tmp_path / "sweep.toml"), "--store", str(tmp_path / "s.sqlite"), "--executor", "inline"])
    assert out.exit_code == 0, out.output
    assert "warning: skipping text.png of " in out.output and "cannot read" in out.output and "SkippedImage" not in out.output
    assert "1 ran, 0 failed" in out.output


def test_a_sweep_none_of_whose_images_read_is_one_sentence_before_any_trial(tmp_path):
    _folder(tmp_path / "images", good=0)
    with pytest.warns(SkippedImage), pytest.raises(rdpkit.InputError, match="none of the 2 image\\(s\\) of .*images can be read; the first: "):
        run_sweep(_config(tmp_path / "images"), tmp_path / "s.sqlite", executor="inline", progress=False)
    assert not (tmp_path / "s.sqlite").exists()


def test_the_plane_on_data_leaves_out_a_file_that_does_not_read(tmp_path):
    _folder(tmp_path / "images")
    with pytest.warns(SkippedImage) as caught:
        (trial,) = plane_trials(str(tmp_path / "images"), ["jpeg,quality=30"], size=16, device="cpu")
    assert sorted(str(w.message).split(" of ")[0] for w in caught) == ["skipping loop.png", "skipping text.png"]
    assert dataset(trial.data)[2].shape[0] == 3


# ----------------------------------------------------------------------------- judge

#: Judgments of the small layouts below: the first of TID2013's label file (all of reference I01) and of each BAPPS 2AFC subset.
SMALL = 12


@rdpkit.hookimpl
def rdpkit_dataset_layouts() -> list[rdpkit.Spec]:
    return [rdpkit.Spec(f"{name}-small", lambda text, name=name: LAYOUTS[name].load(text, limit=SMALL), summary=f"the first {SMALL} of {name}")
            for name in ("tid2013", "bapps-2afc")]


@pytest.fixture
def registry(rdpkit_registry):
    rdpkit_registry.register(sys.modules[__name__], "skipped-images-test")
    return rdpkit_registry


@pytest.fixture(scope="module")
def tid(tmp_path_factory) -> Path:
    return make_fixture("tid2013", tmp_path_factory.mktemp("tid"), size=16, limit=SMALL)


def test_judge_drops_the_judgments_of_images_that_do_not_read_and_says_how_many(registry, tid, tmp_path):
    folder = tmp_path / "tid"
    shutil.copytree(tid, folder)
    items = LAYOUTS["tid2013"].load(str(folder), limit=SMALL).items
    Path(items[3].image).write_text("not an image")
    Path(items[7].image).unlink()
    Path(items[7].image).mkdir()  # a folder named like the image
    with pytest.warns(SkippedImage) as caught:
        judgement = judge(["mse"], [f"tid2013-small:{folder}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    said = sorted(str(w.message) for w in caught if issubclass(w.category, SkippedImage))
    assert len(said) == 2 and Path(items[3].image).name in said[0] + said[1] and "is a folder" in said[0] + said[1], said
    kept = judgement.datasets["tid2013"]
    assert len(kept) == SMALL - 2 and items[3] not in kept.items and items[7] not in kept.items
    scored = judgement.scored["tid2013", "mse"]
    assert len(scored.scores) == SMALL - 2 and None not in scored.scores and not scored.errors
    left_out = judgement.left_out["tid2013"]
    assert (left_out.judgments, left_out.of, set(left_out.files)) == (2, SMALL, {items[3].image, items[7].image})
    page, tables = write(judgement, tmp_path / "out", n_boot=20)
    assert tables["agreement"][0]["n"] == SMALL - 2
    assert f"2 of the {SMALL} judgments of tid2013 were dropped: they name 2 image file(s) that do not read" in page.read_text()
    assert {r["file"] for r in tables["left_out"]} == set(left_out.files) and (page.parent / "left_out.csv").is_file()


def test_judge_with_no_judgment_left_is_one_sentence_before_any_scoring(registry, tid, tmp_path):
    folder = tmp_path / "tid"
    shutil.copytree(tid, folder)
    Path(LAYOUTS["tid2013"].load(str(folder), limit=SMALL).items[0].reference).write_text("not an image")  # every judgment's reference
    with pytest.warns(SkippedImage), pytest.raises(rdpkit.InputError, match=f"every one of the {SMALL} judgments of tid2013 names an image that does not read"):
        judge(["mse"], [f"tid2013-small:{folder}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    assert not (tmp_path / "j.sqlite").exists()


def test_judge_drops_a_bapps_triplet_whose_patch_does_not_read(registry, tmp_path):
    bapps = make_fixture("bapps-2afc", tmp_path / "b", size=16, limit=SMALL)
    first = LAYOUTS["bapps-2afc"].load(str(bapps), limit=SMALL).items[0]
    data = Path(first.p1).read_bytes()
    Path(first.p1).write_bytes(data[: len(data) // 2])  # truncated
    with pytest.warns(SkippedImage, match="damaged or truncated"):
        judgement = judge(["mse"], [f"bapps-2afc-small:{bapps}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    assert len(judgement.datasets["bapps-2afc"]) == 6 * SMALL - 1 and first not in judgement.datasets["bapps-2afc"].items
    assert judgement.left_out["bapps-2afc"].judgments == 1


def test_the_judge_command_says_each_skipped_file_and_how_many_judgments_were_dropped(tmp_path):
    csiq = make_fixture("csiq", tmp_path / "csiq", size=16)
    item = LAYOUTS["csiq"].load(str(csiq)).items[0]
    Path(item.image).write_text("not an image")
    out = CliRunner().invoke(cli, ["judge", "--metric", "mse", "--data", f"csiq:{csiq}", "--bootstrap", "20", "--out", str(tmp_path / "out"),
                                   "--executor", "inline"])
    assert out.exit_code == 0, out.output
    assert f"warning: skipping {Path(item.image).name} of csiq: cannot read" in out.output and "SkippedImage" not in out.output
    assert "1 of the 866 judgments of csiq were dropped" in " ".join(out.output.split())
