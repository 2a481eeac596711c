"""The shipped models: verified at load, carrying the record of how they were made, and (acceptance) beating
JPEG on photographs they never saw; the sweep preset that compares them with JPEG and WebP."""

from __future__ import annotations

import json

import pytest
from rdpkit_learned_codecs import plugin
from rdpkit_learned_codecs.models import zoo as shipped

import rdpkit
import rdpkit.testing as rt
from rdpkit.data import HELD_OUT, load_image, save_png
from rdpkit.errors import WeightsUnavailable
from rdpkit.evaluate import bd_frame, evaluate
from rdpkit.weights import sha256

RECORD_FIELDS = {"command", "seed", "data", "schedule", "architecture", "versions", "training_wall_s", "sha256", "bytes", "history"}


@pytest.mark.parametrize("kind", ["hyperprior", "factorized"])
def test_shipped_files_match_their_digests_and_records(kind):
    path, digest = shipped.shipped(kind)
    record = json.loads(path.with_suffix(".json").read_text())
    assert len(digest) == 64 and sha256(path) == digest == record["sha256"]
    assert RECORD_FIELDS <= record.keys() and record["data"]["source"] == "builtin:training"
    assert not set(record["data"]["images"]) & {f"builtin:{n}" for n in rdpkit.data.HELD_OUT}


@pytest.mark.parametrize("kind, rates", [("hyperprior", 5), ("factorized", 5)])
def test_quality_loads_a_shipped_model_ready_to_code(kind, rates):
    codec = rdpkit.codec(kind, quality=rates)
    assert codec.fitted and not codec.learnable and codec.config.rates == rates
    rt.check_codec(codec)


@pytest.mark.parametrize("kind", ["hyperprior", "factorized"])
def test_a_codec_asked_for_by_name_alone_is_the_shipped_model(kind, photo):
    codec = rdpkit.codec(kind)  # like rdpkit.codec("hific"): no options, ready to code
    assert codec.fitted and not codec.learnable and codec.source.startswith("shipped:") and codec.quality == 1
    x = photo[..., :64, :64]
    assert codec.decode(codec.encode(x).to_bytes()).shape == x.shape
    untrained = rdpkit.codec(kind, channels=8, latent_channels=12)  # an architecture asks for a codec to fit
    assert untrained.learnable and not untrained.fitted


def test_a_shipped_file_that_was_replaced_is_refused(tmp_path, monkeypatch):
    path, _ = shipped.shipped("factorized")
    copy = tmp_path / path.name
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(shipped, "FOLDER", tmp_path)
    with pytest.raises(WeightsUnavailable, match="damaged or was replaced"):
        rdpkit.codec("factorized", quality=1)
    monkeypatch.setitem(shipped.ZOO, ("factorized", None, None, None), (path.name, ""))
    with pytest.raises(WeightsUnavailable, match="no recorded sha256"):
        rdpkit.codec("factorized", quality=1)


def test_acceptance_hyperprior_beats_jpeg_on_held_out_photographs(tmp_path):
    # 256×256 centre crops of astronaut, coffee and china (never trained on), through `rdpkit evaluate`.
    for name in HELD_OUT:
        x = load_image(f"builtin:{name}")
        top, left = (x.shape[-2] - 256) // 2, (x.shape[-1] - 256) // 2
        save_png(x[..., top : top + 256, left : left + 256], tmp_path / "crops" / f"{name}.png")
    evaluation = evaluate(["jpeg,quality=[5,10,20,30,50,75]", "hyperprior,quality=[1,2,3,4,5]"], str(tmp_path / "crops"), distortions=[],
                          features=None, store=tmp_path / "e.sqlite", executor="inline", progress=False)
    bd = bd_frame(evaluation.result_files(), "jpeg").set_index("metric")
    # Measured when the models were shipped: -34.5% over 25.2-27.4 dB.
    row = bd.loc["psnr-rgb"]
    assert row.overlap > 0.5, f"the curves share only {row.overlap:.0%} of their PSNR range"
    assert row["bd_rate_%"] < -20


def test_the_preset_is_a_valid_sweep_that_trains_nothing():
    from rdpkit.sweep.config import SweepConfig

    registry = rt.fresh_registry()
    registry.register(plugin, distribution="rdpkit-learned-codecs")
    spec = next(s for s in plugin.rdpkit_sweep_presets() if s.name == "learned-codecs-heldout")
    from rdpkit_learned_codecs.presets import heldout

    config = SweepConfig.from_dict(heldout())
    config.validate(registry)
    assert spec.name == config.name and config.data.split[0] == 0
