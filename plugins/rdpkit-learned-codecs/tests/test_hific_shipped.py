"""The shipped hific pair: verified at load, carrying the record of how it was made, and (acceptance) Blau & Michaeli's
finding on photographs it never saw; the sweep preset and the `realism` command that show it."""

from __future__ import annotations

import json

import pytest
import torch
from rdpkit_learned_codecs import plugin, realism
from rdpkit_learned_codecs.hific import HificCodec
from rdpkit_learned_codecs.shipped import DEFAULT_HIFIC_LAM_P, SHIPPED_HIFIC, shipped_hific

import rdpkit
import rdpkit.testing as rt
from rdpkit.weights import sha256

RECORD_FIELDS = {"command", "seed", "data", "schedule", "architecture", "start", "versions", "training_wall_s", "sha256", "bytes", "history"}


def test_a_pair_is_shipped_at_every_shipped_rate():
    assert SHIPPED_HIFIC and DEFAULT_HIFIC_LAM_P > 0
    for quality in {q for q, _ in SHIPPED_HIFIC}:
        assert {(quality, 0.0), (quality, DEFAULT_HIFIC_LAM_P)} <= SHIPPED_HIFIC.keys()


@pytest.mark.parametrize("key", sorted(SHIPPED_HIFIC))
def test_shipped_files_match_their_digests_and_records(key):
    quality, lam_p = key
    path, digest = shipped_hific(quality, lam_p)
    record = json.loads(path.with_suffix(".json").read_text())
    assert len(digest) == 64 and sha256(path) == digest == record["sha256"]
    assert RECORD_FIELDS <= record.keys() and record["data"]["source"] == "builtin:training"
    assert not set(record["data"]["images"]) & {f"builtin:{n}" for n in rdpkit.data.HELD_OUT}
    assert record["architecture"]["lam_p"] == lam_p and record["start"]["quality"] == quality
    assert f"--lam-p {lam_p:g}" in record["command"]


def test_the_two_members_differ_only_in_lam_p():
    (a, b) = (json.loads(shipped_hific(1, lam_p)[0].with_suffix(".json").read_text()) for lam_p in (0.0, DEFAULT_HIFIC_LAM_P))
    assert {k: v for k, v in a["architecture"].items() if k != "lam_p"} == {k: v for k, v in b["architecture"].items() if k != "lam_p"}
    assert a["schedule"] == b["schedule"] and a["seed"] == b["seed"] and a["start"] == b["start"]
    assert a["command"].replace("--lam-p 0 ", f"--lam-p {DEFAULT_HIFIC_LAM_P:g} ").replace("lamp0.", f"lamp{DEFAULT_HIFIC_LAM_P:g}.") == b["command"]


def test_the_default_is_the_gan_member_and_lam_p_0_its_twin():
    gan, twin = rdpkit.codec("hific"), rdpkit.codec("hific", lam_p=0)
    assert gan.hific.lam_p == DEFAULT_HIFIC_LAM_P and twin.hific.lam_p == 0
    assert gan.fitted and not gan.learnable
    rt.check_codec(gan)


def test_a_shipped_file_that_was_replaced_is_refused(tmp_path, monkeypatch):
    from rdpkit_learned_codecs import shipped

    from rdpkit.errors import WeightsUnavailable

    path, _ = shipped_hific(None, DEFAULT_HIFIC_LAM_P)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    (tmp_path / path.name).write_bytes(bytes(data))
    monkeypatch.setattr(shipped, "FOLDER", tmp_path)
    with pytest.raises(WeightsUnavailable, match="damaged or was replaced"):
        rdpkit.codec("hific")


# -- acceptance: the rate-distortion-perception trade-off on the held-out photographs ----------------


@pytest.fixture(scope="module")
def pair() -> tuple[realism.PDPoint, realism.PDPoint]:
    torch.set_num_threads(2)
    images = realism.held_out()
    points = [realism.measure(f"λ_p={lam_p:g}", HificCodec(quality=1, lam_p=lam_p), images, bootstrap=100)[0]
              for lam_p in (0.0, DEFAULT_HIFIC_LAM_P)]
    return points[0], points[1]


def test_acceptance_at_the_same_rate_the_gan_member_trades_mse_for_realism(pair):
    """Blau & Michaeli (CVPR 2018) on photographs: at equal rate, better perception costs distortion.

    Measured when the pair was shipped (astronaut, coffee, china at full size; 321 patches of 64×64 a side;
    Fréchet distance between Gaussian fits of NIQE's natural-scene statistics, 100-resample basic bootstrap):
    see the plugin's README for the numbers these margins were set from."""
    mse_only, gan = pair
    assert abs(gan.bpp / mse_only.bpp - 1) < 0.05, (gan.bpp, mse_only.bpp)
    assert gan.mse.mean > 1.03 * mse_only.mse.mean
    assert gan.divergence.value < 0.6 * mse_only.divergence.value
    assert gan.divergence.ci[1] < mse_only.divergence.ci[0], "the intervals overlap"
    assert gan.critic.mean < mse_only.critic.mean - 0.5


def test_the_preset_is_a_valid_sweep_over_both_members():
    from rdpkit_learned_codecs.presets import hific_heldout

    from rdpkit.sweep.config import SweepConfig

    registry = rt.fresh_registry()
    registry.register(plugin, distribution="rdpkit-learned-codecs")
    config = SweepConfig.from_dict(hific_heldout())
    config.validate(registry)
    assert config.name == "hific-heldout" and config.data.split[0] == 0
    (hific,) = [c for c in config.codecs if c.label.startswith("hific")]
    assert sorted(hific.lambdas) == [0.0, DEFAULT_HIFIC_LAM_P]


def test_realism_command_prints_the_points_and_draws_both_figures(tmp_path):
    from click.testing import CliRunner
    from rdpkit_learned_codecs.cli import main

    args = ["realism", "--json", "--threads", "2", "--figure", str(tmp_path / "pd.png"), "--crops", str(tmp_path / "crops.png")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [p["label"] for p in lines] == ["hyperprior q=1", "hific q=1 λ_p=0", f"hific q=1 λ_p={DEFAULT_HIFIC_LAM_P:g}"]
    assert all(p["divergence"]["n"] > 100 and p["bpp"] > 0 for p in lines)
    for name in ("pd.png", "crops.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
