"""Sweep files: the grid they expand to, and bad ones refused with one sentence before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_sweep_toy import toy_plugin  # noqa: F401  (fixture)

from rdpkit.cli import cli
from rdpkit.store import Store, config_key
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.presets import PRESETS, preset
from rdpkit.sweep.runner import sweep_trials
from rdpkit.sweep.trial import KIND

GOOD = """
[sweep]
name = "toy"
seeds = [0, 1]

[data]
source = "digits"
limit = 120

[[codec]]
name = "toy-quant"
grid = { levels = [2, 4, 8] }
options = { dither = true }

[evaluate]
critic = ""
divergences = ["toy-mean-gap"]
"""


def test_grid_expands_to_every_combination_and_seed():
    cfg = SweepConfig.from_dict({"codec": [{"name": "gan", "grid": {"dim": [1, 2], "levels": [2, 4]}, "lambdas": [0.0, 0.5],
                                            "training_distortion": "mse", "fit": {"steps": 3}}], "sweep": {"seeds": [0, 7]}})
    trials = cfg.trials()
    assert len(trials) == 2 * 2 * 2 * 2
    assert {(t["options"]["dim"], t["options"]["levels"], t["options"]["lam"], t["seed"]) for t in trials} == {
        (d, L, lam, s) for d in (1, 2) for L in (2, 4) for lam in (0.0, 0.5) for s in (0, 7)}
    assert all(t["options"]["distortion"] == "mse" and t["fit"] == {"steps": 3} for t in trials)
    assert len({config_key(t) for t in trials}) == len(trials), "every trial has its own key"


def test_presets_parse():
    for name in PRESETS:
        cfg = preset(name)
        assert cfg.trials() and cfg.evaluate.critic == "wasserstein-critic"
    assert len(preset("digits-smoke").trials()) <= 6


def _sweep(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, Path]:
    (tmp_path / "sweep.toml").write_text(text)
    store = tmp_path / "out" / "s.sqlite"
    result = CliRunner().invoke(cli, ["sweep", str(tmp_path / "sweep.toml"), "--store", str(store), "--quiet", *extra])
    return result.exit_code, result.output, store


@pytest.mark.parametrize(
    "change, message",
    [
        (("toy-quant\"\ngrid", "toy-quantt\"\ngrid"), "unknown codec 'toy-quantt'; did you mean 'toy-quant'"),
        (("levels = [2, 4, 8]", "levls = [2, 4, 8]"), "codec 'toy-quant' has no option 'levls'; did you mean 'levels'"),
        (("levels = [2, 4, 8]", "levels = []"), "grid option 'levels' of codec 'toy-quant' is empty"),
        (("options = { dither = true }", "options = { dither = true }\nlambdas = [0.0, 0.1]"), "has no option 'lam'"),
        (("options = { dither = true }", "options = { dither = true }\nfit = { stepz = 3 }"), "has no option 'stepz'; did you mean 'steps'"),
        (("seeds = [0, 1]", "seeds = []"), "seeds is empty"),
        (("divergences = [\"toy-mean-gap\"]", "divergences = [\"toy-mean-gapp\"]"), "did you mean 'toy-mean-gap'"),
        (("[evaluate]", "[evaluate]\ndistortions = [\"ssim\"]"), "needs images of at least 11×11"),
        (("limit = 120", "limt = 120"), "unknown key 'limt' in [data]; did you mean 'limit'"),
        (("source = \"digits\"", "source = \"builtin:astronot\"\nsize = 16"), "did you mean 'astronaut'"),
        (("name = \"toy\"", "name = toy"), "is not valid TOML"),
    ],
)
def test_bad_config_is_refused_before_anything_runs(tmp_path, toy_plugin, change, message):  # noqa: F811
    assert GOOD.count(change[0]) == 1
    code, output, store = _sweep(tmp_path, GOOD.replace(*change))
    assert code == 2 and message in output and "Traceback" not in output, output
    assert not store.exists(), "nothing may run, or be written, before the configuration is valid"
    assert not any(toy_plugin.iterdir()), "no trial may have started"


def test_unwritable_store_is_refused_before_anything_runs(tmp_path, toy_plugin):  # noqa: F811
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "sweep.toml").write_text(GOOD)
    result = CliRunner().invoke(cli, ["sweep", str(tmp_path / "sweep.toml"), "--store", str(tmp_path / "a-file" / "s.sqlite")])
    assert result.exit_code == 2 and "choose a writable path with --store" in result.output
    assert not any(toy_plugin.iterdir())


def test_a_store_holding_the_sweep_needs_resume(tmp_path, toy_plugin):  # noqa: F811
    (tmp_path / "sweep.toml").write_text(GOOD)
    with Store(tmp_path / "out" / "s.sqlite") as s:  # as a finished run leaves it
        for key, trial in sweep_trials(SweepConfig.from_toml(tmp_path / "sweep.toml")).items():
            s.claim(key, KIND, trial)
            s.finish(key, {"key": key})
    code, output, _ = _sweep(tmp_path, GOOD)
    assert code == 2 and "already holds 6 of this sweep's 6 trials (6 done); pass --resume" in output
    code, output, _ = _sweep(tmp_path, GOOD, "--resume", "--json")
    assert code == 0 and '"ran": 0' in output and '"already_done": 6' in output


def test_cli_needs_one_source_of_trials(tmp_path):
    result = CliRunner().invoke(cli, ["sweep", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "either a sweep file" in result.output
    result = CliRunner().invoke(cli, ["sweep", "--preset", "digits-smok", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "did you mean 'digits-smoke'" in result.output
