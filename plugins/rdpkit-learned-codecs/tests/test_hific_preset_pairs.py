"""The hific-heldout preset pairs each shipped quality with the perception weights shipped at that quality (the zoo), not a cross."""

from __future__ import annotations

from rdpkit_learned_codecs import plugin
from rdpkit_learned_codecs.models import zoo
from rdpkit_learned_codecs.presets import hific_heldout

import rdpkit.testing as rt
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.trial import sweep_grid


def _hific_settings(monkeypatch, shipped):
    monkeypatch.setattr(zoo, "SHIPPED_HIFIC", shipped)
    registry = rt.fresh_registry()
    registry.register(plugin, distribution="rdpkit-learned-codecs")
    config = SweepConfig.from_dict(hific_heldout())
    return sorted((t.codec.options["quality"], t.codec.options["lam_p"]) for t in sweep_grid(config, registry) if t.label.startswith("hific"))


def test_every_shipped_pair_is_one_setting_and_nothing_else(monkeypatch):
    assert _hific_settings(monkeypatch, zoo.SHIPPED_HIFIC) == sorted(zoo.SHIPPED_HIFIC)


def test_a_per_rate_perception_weight_in_the_zoo_reaches_the_preset(monkeypatch):
    shipped = {(1, 0.0): None, (1, 0.15): None, (3, 0.0): None, (3, 0.05): None}
    assert _hific_settings(monkeypatch, shipped) == [(1, 0.0), (1, 0.15), (3, 0.0), (3, 0.05)], "λ_p paired with its quality, never crossed"
