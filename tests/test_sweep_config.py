"""Sweep files: the grid they expand to, and bad ones refused with one sentence before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_sweep_toy import toy_plugin  # noqa: F401  (fixture)

import rdpkit
from rdpkit.cli import cli
from rdpkit.store import Store
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.presets import preset, presets
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
name = "toy-quant,dither=true"
grid = { levels = [2, 4, 8] }

[evaluate]
perception = "toy-mean-gap"
"""


def test_grid_expands_to_every_combination_and_seed():
    cfg = SweepConfig.from_dict({"codec": [{"name": "gan,distortion=mse", "grid": {"dim": [1, 2], "levels": [2, 4]}, "lambdas": [0.0, 0.5],
                                            "fit": {"steps": 3}}], "sweep": {"seeds": [0, 7]}})
    trials = list(sweep_trials(cfg).values())
    assert len(trials) == 2 * 2 * 2 * 2
    assert {(t.codec.options["dim"], t.codec.options["levels"], t.codec.options["lam"], t.seed) for t in trials} == {
        (d, L, lam, s) for d in (1, 2) for L in (2, 4) for lam in (0.0, 0.5) for s in (0, 7)}, "lambdas set the codec's declared perception weight"
    assert all(t.codec.options["distortion"] == "mse" and t.fit == {"steps": 3} for t in trials)
    assert len({t.key for t in trials}) == len(trials), "every trial has its own key"


def test_presets_come_from_plugins_and_parse():
    names = presets()
    assert {"digits", "digits-smoke"} <= set(names)
    for name in names:
        cfg = preset(name)
        assert list(sweep_trials(cfg).values()), f"preset {name} holds no trial"
        assert all(c.codec.name.partition(":")[0] for c in cfg.codecs) and ":" in cfg.evaluate.perception.name, "presets name components qualified"
    assert preset("digits").evaluate.perception.name == "rdpkit:wasserstein-critic"
    assert len(sweep_trials(preset("digits-smoke"))) <= 6


@pytest.mark.parametrize(
    "retired, message",
    [
        ({"evaluate": {"critic": "wasserstein-critic"}}, "[evaluate] critic is now perception"),
        ({"evaluate": {"critic_options": {"steps": 3}}}, "written into perception, e.g. perception = \"wasserstein-critic,steps=200\""),
        ({"codec": [{"name": "sq", "options": {"levels": 4}}]}, "written into the name"),
        ({"codec": [{"name": "gan", "training_distortion": "mse"}]}, "name = \"gan,distortion=mse\""),
    ],
)
def test_retired_keys_name_their_replacement(retired, message):
    spec = {"codec": [{"name": "sq"}], **retired}
    with pytest.raises(rdpkit.InputError) as info:
        SweepConfig.from_dict(spec)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"evaluate": {"perception": "mmd", "divergences": "mmd"}}, "[evaluate] divergences must be a list of names"),
        ({"evaluate": {"bootstrap": 1}}, "bootstrap must be 0 (off) or at least 2"),
        ({"evaluate": {"bootstrap": 2.5}}, "[evaluate] bootstrap must be an integer"),
        ({"evaluate": {"bootstrap": "10"}}, "[evaluate] bootstrap must be an integer"),
        ({"data": {"source": "builtin", "size": "abc"}}, "[data] size must be an integer of at least 1, got 'abc'"),
        ({"data": {"source": "builtin", "size": -5}}, "[data] size must be an integer of at least 1, got -5"),
        ({"sweep": {"device": "bogus"}}, "'bogus' is not a torch device"),
        ({"sweep": {"threads": 0}}, "[sweep] threads must be an integer of at least 1"),
        ({"data": {"split": [0.5, 0.5, 0]}}, "the test one positive"),
    ],
)
def test_every_key_is_type_checked_before_anything_runs(bad, message):
    with pytest.raises(rdpkit.InputError) as info:
        SweepConfig.from_dict({"codec": [{"name": "sq"}], **bad})
    assert message in str(info.value)


def _sweep(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, Path]:
    (tmp_path / "sweep.toml").write_text(text)
    store = tmp_path / "out" / "s.sqlite"
    result = CliRunner().invoke(cli, ["sweep", str(tmp_path / "sweep.toml"), "--store", str(store), "--quiet", *extra])
    return result.exit_code, result.output, store


@pytest.mark.parametrize(
    "change, message",
    [
        (("toy-quant,dither", "toy-quantt,dither"), "unknown codec 'toy-quantt'; did you mean 'toy-quant'"),
        (("levels = [2, 4, 8]", "levls = [2, 4, 8]"), "codec 'toy-quant' has no option 'levls'; did you mean 'levels'"),
        (("levels = [2, 4, 8]", "levels = []"), "grid option 'levels' of codec 'toy-quant' is empty"),
        (("grid = { levels = [2, 4, 8] }", "grid = { levels = [2, 4, 8] }\nlambdas = [0.0, 0.1]"), "declares no perception weight, so it takes no lambdas"),
        (("grid = { levels = [2, 4, 8] }", "grid = { levels = [2, 4, 8] }\nfit = { stepz = 3 }"), "has no option 'stepz'; did you mean 'steps'"),
        (("toy-quant,dither=true", "toy-quant,dither=true,dithr=1"), "has no option 'dithr'; did you mean 'dither'"),
        (("perception = \"toy-mean-gap\"", "perception = \"wgan-gp\""), "must be trained on real and decoded images before it scores"),
        (("perception = \"toy-mean-gap\"", "perception = \"toy-mean-gapp\""), "neither a registered divergence nor a critic"),
        (("seeds = [0, 1]", "seeds = []"), "seeds is empty"),
        (("perception = \"toy-mean-gap\"", "perception = \"toy-mean-gap\"\ndivergences = [\"toy-mean-gapp\"]"), "did you mean 'toy-mean-gap'"),
        (("[evaluate]", "[evaluate]\ndistortions = [\"ssim\"]"), "needs images of at least 11×11"),
        (("limit = 120", "limt = 120"), "unknown key 'limt' in [data]; did you mean 'limit'"),
        (("source = \"digits\"", "source = \"builtin:astronot\"\nsize = 16"), "did you mean 'astronaut'"),
        (("name = \"toy\"", "name = toy"), "is not valid TOML"),
    ],
)
def test_bad_config_is_refused_before_anything_runs(tmp_path, toy_plugin, change, message):
    assert GOOD.count(change[0]) == 1
    code, output, store = _sweep(tmp_path, GOOD.replace(*change))
    assert code == 2 and message in output and "Traceback" not in output, output
    assert not store.exists(), "nothing may run, or be written, before the configuration is valid"
    assert not any(toy_plugin.iterdir()), "no trial may have started"


def test_unwritable_store_is_refused_before_anything_runs(tmp_path, toy_plugin):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "sweep.toml").write_text(GOOD)
    result = CliRunner().invoke(cli, ["sweep", str(tmp_path / "sweep.toml"), "--store", str(tmp_path / "a-file" / "s.sqlite")])
    assert result.exit_code == 2 and "choose a writable path" in result.output
    assert not any(toy_plugin.iterdir())


def test_a_store_holding_the_sweep_is_continued(tmp_path, toy_plugin):
    (tmp_path / "sweep.toml").write_text(GOOD)
    with Store(tmp_path / "out" / "s.sqlite") as s:  # as a finished run leaves it
        for key, trial in sweep_trials(SweepConfig.from_toml(tmp_path / "sweep.toml")).items():
            s.claim(key, KIND, trial.identity())
            s.finish(key, {"key": key})
    code, output, _ = _sweep(tmp_path, GOOD, "--json")
    assert code == 0 and '"ran": 0' in output and '"already_done": 6' in output, "a rerun continues, as the audit and evaluate do"


def test_cli_needs_one_source_of_trials(tmp_path):
    result = CliRunner().invoke(cli, ["sweep", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "either a sweep file" in result.output
    result = CliRunner().invoke(cli, ["sweep", "--preset", "digits-smok", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "did you mean 'digits-smoke'" in result.output


def test_the_worked_examples_of_the_reference_are_what_they_say():
    doc = (Path(__file__).parents[1] / "docs" / "sweep-toml.md").read_text()
    photos, digits, paired = [block.split("```", 1)[0] for block in doc.split("```toml\n")[1:4]]
    with pytest.raises(rdpkit.InputError, match=r"distortion 'ms-ssim' needs images of at least 161×161, but the sweep's are 64×64"):
        SweepConfig.from_toml_text(photos).validate(rdpkit.get_registry())
    fixed = SweepConfig.from_toml_text(photos.replace('"mse", "ms-ssim"', '"mse"'))
    fixed.validate(rdpkit.get_registry())
    assert len(sweep_trials(fixed)) == (4 + 4) * 2
    learned = SweepConfig.from_toml_text(digits)
    learned.validate(rdpkit.get_registry())
    assert {t.codec.options["lam"] for t in sweep_trials(learned).values()} == {0.0, 0.01, 0.05}
    per_rate = SweepConfig.from_toml_text(paired)
    per_rate.validate(rdpkit.get_registry())
    assert sorted((t.codec.options["dim"], t.codec.options["lam"]) for t in sweep_trials(per_rate).values()) == [
        (2, 0.0), (2, 0.05), (4, 0.0), (4, 0.02), (8, 0.0), (8, 0.01)], "six settings, as the reference says"


def test_paired_options_vary_together_and_are_crossed_with_the_rest():
    cfg = SweepConfig.from_dict({"codec": [{"name": "gan,distortion=mse,noise=[0.0, 0.5]", "grid": {"dim": [1, 2]},
                                            "paired": {"levels": [2, 4, 8], "lambdas": [[0.0, 0.5], 0.1, [0.2]]}}], "sweep": {"seeds": [0, 3]}})
    got = [(t.codec.options["noise"], t.codec.options["dim"], t.codec.options["levels"], t.codec.options["lam"], t.seed) for t in sweep_trials(cfg).values()]
    per_position = [(2, 0.0), (2, 0.5), (4, 0.1), (8, 0.2)]
    assert sorted(got) == sorted((n, d, L, lam, s) for n in (0.0, 0.5) for d in (1, 2) for L, lam in per_position for s in (0, 3))
    assert len(got) == 2 * 2 * 4 * 2, "positions are zipped, never crossed with each other"


@pytest.mark.parametrize(
    "codec, message",
    [
        ({"name": "gan", "paired": {"dim": [1, 2], "lambdas": [0.1]}}, "must have one value per position, but dim has 2, lambdas has 1"),
        ({"name": "gan", "paired": {"dim": [1, 2]}}, "names one option ('dim'); pair at least two"),
        ({"name": "gan", "paired": [1, 2]}, "paired of codec 'gan' must be a table of lists of one length"),
        ({"name": "gan", "paired": {"dim": 2, "lambdas": [0.1]}}, "paired option 'dim' of codec 'gan' must be a list"),
        ({"name": "gan", "paired": {"dim": [], "lambdas": []}}, "paired option 'dim' of codec 'gan' is empty"),
        ({"name": "gan,dim=2", "paired": {"dim": [1, 2], "lambdas": [0, 0.1]}}, "option 'dim' of codec 'gan' is both paired and in its name"),
        ({"name": "gan", "grid": {"dim": [1, 2]}, "paired": {"dim": [1, 2], "lambdas": [0, 0.1]}}, "option 'dim' of codec 'gan' is both paired and in grid"),
        ({"name": "gan", "lambdas": [0.1], "paired": {"dim": [1, 2], "lambdas": [0, 0.1]}}, "has lambdas both in paired and on their own"),
        ({"name": "gan", "paired": {"dim": [1, 2], "lambdas": [-1, [0.1]]}}, "paired lambdas of codec 'gan' must be finite numbers ≥ 0 or non-empty lists"),
        ({"name": "gan", "paired": {"dim": [1, 2], "lambdas": [[], 0.1]}}, "paired lambdas of codec 'gan' must be finite numbers ≥ 0 or non-empty lists"),
        ({"name": "gan", "paired": {"dim": [1, 2], "lambdas": [True, 0.1]}}, "paired lambdas of codec 'gan' must be finite numbers ≥ 0 or non-empty lists"),
    ],
)
def test_paired_is_type_checked_with_one_sentence(codec, message):
    with pytest.raises(rdpkit.InputError) as info:
        SweepConfig.from_dict({"codec": [codec]})
    assert message in str(info.value)


def test_paired_perception_weight_named_twice_is_refused():
    cfg = SweepConfig.from_dict({"codec": [{"name": "gan", "paired": {"dim": [1, 2], "lam": [0.0, 0.1]}, "lambdas": [0.2]}]})
    with pytest.raises(rdpkit.InputError, match="perception weight 'lam' both in paired and as lambdas"):
        cfg.validate(rdpkit.get_registry())


@pytest.mark.parametrize(
    "paired, message",
    [
        ("paired = { levls = [2, 4], dither = [true, false] }", "codec 'toy-quant' has no option 'levls'; did you mean 'levels'"),
        ("paired = { levels = [2, 4], lambdas = [0.0, 0.1] }", "declares no perception weight, so it takes no lambdas"),
    ],
)
def test_paired_unknown_options_are_refused_before_anything_runs(tmp_path, toy_plugin, paired, message):
    text = GOOD.replace("toy-quant,dither=true", "toy-quant").replace("grid = { levels = [2, 4, 8] }", paired)
    code, output, store = _sweep(tmp_path, text)
    assert code == 2 and message in output and "Traceback" not in output, output
    assert not store.exists() and not any(toy_plugin.iterdir())
