"""The option grammar: it reads back what it writes, nests components, and spells a grid one way."""

from __future__ import annotations

import math
import types

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rdpkit
from rdpkit import Spec, hookimpl
from rdpkit.interfaces import Distortion, FeatureExtractor
from rdpkit.options import Component
from rdpkit.registry import active_registry, get_registry
from rdpkit.sweep.config import SweepConfig
from rdpkit.testing import fresh_registry

NAMES = st.from_regex(r"([a-z][a-z0-9-]{0,6}:)?[a-z][a-z0-9-]{0,10}", fullmatch=True)
KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
# NaN is left out: it reads back as NaN (test below), but Python never calls NaN equal to itself.
SCALARS = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.builds(Component, NAMES, st.dictionaries(KEYS, VALUES, max_size=4)))
def test_every_component_reads_back_as_itself(c):
    assert Component.parse(str(c)) == c


@pytest.mark.parametrize("text", ['a,b', 'say "hi"', "[x]", "{y}", "k=v", "é😀", " padded ", "tab\there", "back\\slash", "inf", "true", "12", "", "'"])
def test_awkward_text_reads_back_at_any_depth(text):
    c = Component("x", {"top": text, "nested": [[text, 1.0]], "table": {text: text}})
    assert Component.parse(str(c)) == c


def test_nan_and_infinities_read_back():
    c = Component.parse(str(Component("x", {"a": math.nan, "b": [math.inf, -math.inf]})))
    assert math.isnan(c.options["a"]) and c.options["b"] == [math.inf, -math.inf]


def test_a_nested_component_is_its_string_quoted():
    assert str(Component("frechet", {"extractor": "nss,patch=32"})) == 'frechet,extractor="nss,patch=32"'
    terms = [["mse", 1.0], ["pim,scales=3", 0.1]]
    assert str(Component("weighted-sum", {"terms": terms})) == 'weighted-sum,terms=[["mse", 1.0], ["pim,scales=3", 0.1]]'
    assert str(Component("x", {"distortion": "mse", "path": "models/pim.safetensors"})) == "x,distortion=mse,path=models/pim.safetensors"


def test_what_earlier_versions_wrote_still_reads():
    assert Component.parse("weighted-sum,terms=[[mse, 1.0]]").options == {"terms": [["mse", 1.0]]}
    assert Component.parse("frechet,extractor=nss,extractor_options={patch=32}").options == {"extractor": "nss", "extractor_options": {"patch": 32}}


class Scaled(FeatureExtractor):
    """Features that only the test's registry knows."""

    feature_kind = "hand-crafted"

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x.flatten(1).mean(1, keepdim=True)


class Weighted(Distortion):
    """A distortion with an option that takes a list."""

    def __init__(self, weights: list[float] = (1.0,), scale: float = 1.0) -> None:  # type: ignore[assignment]
        super().__init__()
        self.weights, self.scale = weights, scale

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return self.scale * sum(self.weights) * (x - x_hat).pow(2).flatten(1).mean(1)


LOCAL = types.SimpleNamespace(
    __name__="local",
    rdpkit_feature_extractors=hookimpl(lambda: [Spec("only-here", Scaled, summary="scaled mean")]),
    rdpkit_distortions=hookimpl(lambda: [Spec("weighted", Weighted, summary="weighted mse", differentiable=True)]),
)


@pytest.fixture
def local():
    return fresh_registry(LOCAL)


def test_nested_components_come_from_the_registry_that_creates_the_outer_one(local):
    div = Component.parse('frechet,extractor="only-here,scale=2"').create("divergence", local)
    assert div.extractor.info.distribution == "local" and div.extractor.scale == 2.0
    assert div.features_label == "hand-crafted:only-here"
    assert active_registry() is get_registry(), "outside a create, the default registry is the active one"


def test_the_old_extractor_spelling_builds_the_same_extractor(local):
    old = Component.parse("frechet,extractor=only-here,extractor_options={scale=2}").create("divergence", local)
    assert old.extractor.scale == 2.0 and old.features_label == "hand-crafted:only-here"
    with pytest.raises(rdpkit.InputError, match="set both in extractor"):
        Component.parse('frechet,extractor="only-here,scale=2",extractor_options={scale=3}').create("divergence", local)


def test_a_list_for_a_single_value_option_is_one_setting_per_value(local):
    assert [str(s) for s in Component.parse("jpeg,quality=[5,10,20]").settings("codec", local)] == ["jpeg,quality=5", "jpeg,quality=10", "jpeg,quality=20"]
    fixed, varied = Component.parse("webp,quality=[5,20],method=6,lossless=[false,true]").grid("codec", local)
    assert str(fixed) == "webp,method=6" and varied == {"quality": [5, 20], "lossless": [False, True]}
    assert [s.options for s in Component.parse("webp,quality=[5,20],lossless=[false,true]").settings("codec", local)] == [
        {"quality": 5, "lossless": False}, {"quality": 5, "lossless": True}, {"quality": 20, "lossless": False}, {"quality": 20, "lossless": True}]


def test_a_list_for_an_option_that_takes_a_list_is_its_value_and_a_list_of_lists_a_grid(local):
    assert Component.parse("weighted,weights=[0.1,0.2]").settings("distortion", local) == [Component("weighted", {"weights": [0.1, 0.2]})]
    settings_ = Component.parse("weighted,weights=[[0.1],[0.2,0.3]],scale=[1,2]").settings("distortion", local)
    assert [s.options for s in settings_] == [{"weights": [0.1], "scale": 1}, {"weights": [0.1], "scale": 2},
                                              {"weights": [0.2, 0.3], "scale": 1}, {"weights": [0.2, 0.3], "scale": 2}]
    assert Component.parse("weighted,weights=[]").settings("distortion", local) == [Component("weighted", {"weights": []})]


def test_an_empty_grid_is_refused(local):
    with pytest.raises(rdpkit.InputError, match="codec option 'quality' of 'jpeg,quality=\\[\\]' is an empty list; give at least one value"):
        Component.parse("jpeg,quality=[]").settings("codec", local)


def test_a_sweep_name_may_hold_the_grid(local):
    def settings_of(table: str) -> list[Component]:
        return SweepConfig.from_toml_text(f"[data]\nsource = \"builtin\"\nsize = 32\n\n[[codec]]\n{table}\n").codecs[0].settings(local)

    in_name = settings_of('name = "webp,method=6,quality=[5, 15, 40]"')
    assert in_name == settings_of('name = "webp,method=6"\ngrid = { quality = [5, 15, 40] }') and len(in_name) == 3
    with pytest.raises(rdpkit.InputError, match="both fixed .in its name. and varied"):
        settings_of('name = "webp,quality=[5, 15]"\ngrid = { quality = [40] }')


def test_every_component_string_a_sweep_and_an_audit_store_reads_back_as_the_component_asked_for(tmp_path):
    """What the stores keep: the sweep's and the audit's identities hold components as text; each parses to the same component."""
    from rdpkit.recovery.audit import audit
    from rdpkit.recovery.trial import RecoveryTrial
    from rdpkit.store import Store
    from rdpkit.sweep.config import SweepConfig
    from rdpkit.sweep.runner import run_sweep
    from rdpkit.sweep.trial import SweepTrial

    nested = 'frechet,extractor="nss,patch=8"'
    config = SweepConfig.from_dict({"data": {"source": "builtin:astronaut,coffee,chelsea", "size": 32, "split": [0, 0, 1]},
                                    "codec": [{"name": "jpeg,quality=[20, 60]"}],
                                    "evaluate": {"distortions": ["mse"], "perception": "wasserstein-sliced,projections=16",
                                                 "divergences": [nested], "samples": 0}})
    run_sweep(config, tmp_path / "s.sqlite", executor="inline", progress=False)
    with Store(tmp_path / "s.sqlite", readonly=True) as db:
        stored = [t for _, t, _ in SweepTrial.stored(db)]
    for t in stored:
        assert t.evaluate.perception == Component("wasserstein-sliced", {"projections": 16})
        assert t.evaluate.divergences == (Component("frechet", {"extractor": "nss,patch=8"}),)
    assert sorted(t.codec.options["quality"] for t in stored) == [20, 60] and {t.codec.name for t in stored} == {"jpeg"}
    audit(["lpips-alex,pretrained=false"], ["builtin:astronaut"], ["noise"], size=32, steps=3, store=tmp_path / "a.sqlite", executor="inline",
          progress=False)
    with Store(tmp_path / "a.sqlite", readonly=True) as db:
        (trial,) = [t for _, t, _ in RecoveryTrial.stored(db)]
    # The audit keys a distortion by its qualified name, so that its results do not depend on which other plugins are installed.
    assert trial.distortion == Component("rdpkit-lpips:lpips-alex", {"pretrained": False})
