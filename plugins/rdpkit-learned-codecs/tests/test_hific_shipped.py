"""The shipped hific pair: verified at load, carrying the record of how it was made, and (acceptance) Blau & Michaeli's
finding on photographs it never saw, measured by `rdpkit evaluate` as the README's P-D figure is; the sweep preset."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from rdpkit_learned_codecs import plugin
from rdpkit_learned_codecs.models.zoo import (
    DEFAULT_HIFIC_LAM_P,
    SHIPPED_HIFIC,
    shipped_hific,
)
from rdpkit_learned_codecs.presets import CRITIC, DIVERGENCE, PATCH

import rdpkit
import rdpkit.testing as rt
from rdpkit.evaluate import evaluate, write
from rdpkit.interfaces import Estimate
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


@pytest.mark.parametrize("quality", sorted({q for q, _ in SHIPPED_HIFIC}))
def test_the_two_members_differ_only_in_lam_p(quality):
    (a, b) = (json.loads(shipped_hific(quality, lam_p)[0].with_suffix(".json").read_text()) for lam_p in (0.0, DEFAULT_HIFIC_LAM_P))
    assert {k: v for k, v in a["architecture"].items() if k != "lam_p"} == {k: v for k, v in b["architecture"].items() if k != "lam_p"}
    assert a["schedule"] == b["schedule"] and a["seed"] == b["seed"] and a["start"] == b["start"]
    assert a["command"].replace("--lam-p 0 ", f"--lam-p {DEFAULT_HIFIC_LAM_P:g} ").replace("lamp0.", f"lamp{DEFAULT_HIFIC_LAM_P:g}.") == b["command"]


def test_the_default_is_the_gan_member_and_lam_p_0_its_twin():
    gan, twin = rdpkit.codec("hific"), rdpkit.codec("hific", lam_p=0)
    assert gan.hific.lam_p == DEFAULT_HIFIC_LAM_P and twin.hific.lam_p == 0
    assert gan.fitted and not gan.learnable
    rt.check_codec(gan)


def test_a_shipped_file_that_was_replaced_is_refused(tmp_path, monkeypatch):
    from rdpkit_learned_codecs.models import zoo as shipped

    from rdpkit.errors import WeightsUnavailable

    path, _ = shipped_hific(None, DEFAULT_HIFIC_LAM_P)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    (tmp_path / path.name).write_bytes(bytes(data))
    monkeypatch.setattr(shipped, "FOLDER", tmp_path)
    with pytest.raises(WeightsUnavailable, match="damaged or was replaced"):
        rdpkit.codec("hific")


# -- acceptance: the rate-distortion-perception trade-off on the held-out photographs ----------------


QUALITIES = sorted({q for q, _ in SHIPPED_HIFIC})


@dataclass(frozen=True)
class Point:
    """One shipped hific model on the held-out photographs, as `rdpkit evaluate` measured it."""

    bpp: float
    mse: float
    divergence: Estimate  # real against decoded 64×64 patches
    critic: float  # NIQE, mean over the images


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """`rdpkit evaluate` of every shipped pair on the held-out photographs at full size (README: the P-D figure)."""
    torch.set_num_threads(2)
    lam_ps = sorted({lam_p for _, lam_p in SHIPPED_HIFIC})
    return evaluate([f"hific,quality={QUALITIES},lam_p={lam_ps}"], "builtin:held-out", distortions=["mse"], critics=[CRITIC],
                    divergences=[DIVERGENCE], divergence_patch=PATCH, bootstrap=100, features=None,
                    store=tmp_path_factory.mktemp("hific") / "e.sqlite", executor="inline", progress=False)


@pytest.fixture(scope="module")
def pairs(evaluation) -> dict[int, tuple[Point, Point]]:
    points = {}
    for t, r in next(iter(evaluation.curves.values())):
        s = r.summary()
        points[t.codec.options["quality"], t.codec.options["lam_p"]] = Point(s["bpp"], s["mse"], r.divergences[DIVERGENCE], s[CRITIC])
    return {q: (points[q, 0.0], points[q, DEFAULT_HIFIC_LAM_P]) for q in QUALITIES}


def test_acceptance_at_the_same_rate_the_gan_member_trades_mse_for_realism(pairs):
    """Blau & Michaeli (CVPR 2018) on photographs: at equal rate, better perception costs distortion.

    The lowest shipped rate, measured when the pair was shipped (astronaut, coffee, china at full size; 321
    patches of 64×64 a side; Fréchet distance between Gaussian fits of NIQE's statistics on 32×32 blocks, basic
    bootstrap of 100 resamples; NIQE with patches of 32): 0.230 and 0.231 bpp; MSE 0.00317 and 0.00334 (+5.4 %);
    divergence 1.53 [0.72, 1.97] and 0.43 [0.07, 0.53]; NIQE 4.78 and 3.51."""
    mse_only, gan = pairs[QUALITIES[0]]
    assert abs(gan.bpp / mse_only.bpp - 1) < 0.05, (gan.bpp, mse_only.bpp)
    assert gan.mse > 1.03 * mse_only.mse
    assert gan.divergence.value < 0.6 * mse_only.divergence.value and gan.divergence.n > 300
    assert gan.divergence.ci[1] < mse_only.divergence.ci[0], "the intervals overlap"
    assert gan.critic < mse_only.critic - 0.5


@pytest.mark.parametrize("quality", QUALITIES)
def test_at_every_shipped_rate_the_pair_shares_its_rate_and_the_critic_prefers_the_gan_member(pairs, quality):
    """What holds at every rate. The divergence does not: at quality 3 the GAN member draws a faint grid that NIQE's
    patch statistics see (divergence 0.75 → 26.7) and the NIQE critic does not (4.42 → 3.44); at quality 5 the
    divergence does not move (0.52 → 0.53). The README shows both."""
    mse_only, gan = pairs[quality]
    assert abs(gan.bpp / mse_only.bpp - 1) < 0.05, (gan.bpp, mse_only.bpp)
    assert gan.mse > mse_only.mse
    assert gan.critic < mse_only.critic - 0.3


def test_the_preset_is_a_valid_sweep_over_both_members():
    from rdpkit_learned_codecs.presets import hific_heldout

    from rdpkit.sweep.config import SweepConfig

    registry = rt.fresh_registry()
    registry.register(plugin, distribution="rdpkit-learned-codecs")
    config = SweepConfig.from_dict(hific_heldout())
    config.validate(registry)
    assert config.name == "hific-heldout" and config.data.split[0] == 0 and config.evaluate.patch == PATCH
    assert [c for c in config.codecs if c.label.startswith("hific")], "the pairs themselves: test_hific_preset_pairs.py"


def test_the_report_draws_the_pairs_on_the_p_d_plane_and_their_decoded_crops(evaluation, tmp_path):
    page = write(evaluation, tmp_path)
    for name in (f"pd-{DIVERGENCE}", f"pd-{CRITIC}", "crops"):
        png = next(tmp_path.glob(f"{name.split(',')[0]}*.png"))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.name in page.read_text()


def test_the_former_realism_command_is_gone():
    from click.testing import CliRunner

    from rdpkit.cli import cli

    result = CliRunner().invoke(cli, ["learned-codecs", "realism"])
    assert result.exit_code == 2 and "No such command 'realism'" in result.output


def test_a_stochastic_member_is_chosen_by_noise_beside_its_pair(monkeypatch):
    """`noise=α` alone (with quality and lam_p) picks the shipped stochastic decoder of that rate from the zoo's noise key."""
    from rdpkit_learned_codecs.models import zoo

    from rdpkit.errors import WeightsUnavailable

    name, digest = zoo.ZOO["hific", 1, DEFAULT_HIFIC_LAM_P, 0.0]
    monkeypatch.setitem(zoo.ZOO, ("hific", 1, DEFAULT_HIFIC_LAM_P, 0.5), (name, digest))
    assert zoo.shipped_hific(1, None, 0.5) == (zoo.FOLDER / name, digest)
    assert rdpkit.codec("hific", noise=0.5).source == f"shipped:{name}"
    with pytest.raises(WeightsUnavailable, match=r"noise=0.25 \(shipped: .*quality=1 with lam_p=0.15, noise=0.5"):
        rdpkit.codec("hific", quality=1, noise=0.25)
