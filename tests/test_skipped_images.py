"""A file of a set that does not read is left out, named with why, by every harness (issue 23, item 13).

`rdpkit evaluate` does it in tests/test_dataset_checks.py; here the sweep (and the P-D plane on
--data) and `rdpkit judge`, through the one check (`rdpkit.datasets.readable`): every image read
once before any trial, a `SkippedImage` warning (a ``warning:`` line on the command line) for each
file left out, one sentence when none is left. Judge drops the human judgments of a skipped image
and its report says how many.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import rdpkit
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.datasets import SkippedImage
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
