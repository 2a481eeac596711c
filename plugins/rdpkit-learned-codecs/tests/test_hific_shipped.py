"""The shipped hific pair: verified at load, carrying the record of how it was made, and (acceptance) Blau & Michaeli's
finding on photographs it never saw, measured by `rdpkit evaluate` as the README's P-D figure is; the sweep preset."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass

import pytest
import torch
from rdpkit_learned_codecs import plugin
from rdpkit_learned_codecs.models.zoo import (
    DEFAULT_HIFIC_LAM_P,
    SHIPPED_HIFIC,
    STOCHASTIC_HIFIC,
    TEST,
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


@pytest.mark.parametrize("key", sorted(SHIPPED_HIFIC) + sorted(STOCHASTIC_HIFIC))
def test_shipped_files_match_their_digests_and_records(key):
    quality, lam_p, noise = (*key, 0.0)[:3]
    path, digest = shipped_hific(quality, lam_p, noise)
    record = json.loads(path.with_suffix(".json").read_text())
    assert len(digest) == 64 and sha256(path) == digest == record["sha256"]
    assert RECORD_FIELDS <= record.keys() and record["data"]["source"] == "builtin:training"
    assert not set(record["data"]["images"]) & {f"builtin:{n}" for n in rdpkit.data.HELD_OUT}
    assert record["architecture"]["lam_p"] == lam_p and record["architecture"]["noise"] == noise and record["start"]["quality"] == quality
    assert f"--lam-p {lam_p:g}" in record["command"]


@pytest.mark.parametrize("quality", sorted({q for q, _ in SHIPPED_HIFIC}))
def test_the_two_members_differ_only_in_lam_p(quality):
    (a, b) = (json.loads(shipped_hific(quality, lam_p)[0].with_suffix(".json").read_text()) for lam_p in (0.0, DEFAULT_HIFIC_LAM_P))
    assert {k: v for k, v in a["architecture"].items() if k != "lam_p"} == {k: v for k, v in b["architecture"].items() if k != "lam_p"}
    assert a["schedule"] == b["schedule"] and a["seed"] == b["seed"] and a["start"] == b["start"]
    def without_lam_p(command: str) -> str:
        return re.sub(r"--lam-p \S+", "--lam-p λ", re.sub(r"lamp[0-9.]*?(?=\.(safetensors|pt)\b)", "lampλ", command))

    assert without_lam_p(a["command"]) == without_lam_p(b["command"]) and a["command"] != b["command"]


def test_the_default_is_the_gan_member_and_lam_p_0_its_twin():
    gan, twin = rdpkit.codec("hific"), rdpkit.codec("hific", lam_p=0)
    assert gan.hific.lam_p == DEFAULT_HIFIC_LAM_P and twin.hific.lam_p == 0
    assert gan.fitted and not gan.learnable
    # each member's rate knob is the qualities shipped with its own λ_p, so the contract's R-D part runs over them
    assert twin.rate_settings == [{"quality": q, "lam_p": 0.0} for q in QUALITIES]
    assert rdpkit.codec("hific", noise=0.5).rate_settings is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", rt.ContractSkip)
        rt.check_codec(gan)
        rt.check_codec(twin)


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


# -- acceptance: the rate-distortion-perception trade-off on the test photographs --------------------


QUALITIES = sorted({q for q, _ in SHIPPED_HIFIC})


@dataclass(frozen=True)
class Point:
    """One shipped hific model on the test photographs, as `rdpkit evaluate` measured it."""

    bpp: float
    mse: float
    divergence: Estimate  # real against decoded 64×64 patches
    critic: float  # NIQE, mean over the images


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """`rdpkit evaluate` of every shipped hific model (the pairs and the stochastic members) on the test photographs
    (zoo.TEST: never used for a choice) at full size: the README's P-D figure."""
    torch.set_num_threads(2)
    codecs = [f"hific,quality={q},lam_p={lam_p:g}" for q, lam_p in sorted(SHIPPED_HIFIC)]
    codecs += [f"hific,quality={q},lam_p={lam_p:g},noise={noise:g}" for q, lam_p, noise in sorted(STOCHASTIC_HIFIC)]
    return evaluate(codecs, "builtin:" + ",".join(TEST), distortions=["mse"], critics=[CRITIC], divergences=[DIVERGENCE],
                    divergence_patch=PATCH, bootstrap=100, features=None, store=tmp_path_factory.mktemp("hific") / "e.sqlite",
                    executor="inline", progress=False)


@pytest.fixture(scope="module")
def points(evaluation) -> dict[tuple[int, float, float], Point]:
    """(quality, λ_p, α) → the model's point."""
    found = {}
    for curve in evaluation.curves.values():
        for t, r in curve:
            s, o = r.summary(), t.codec.options
            found[o["quality"], o["lam_p"], o.get("noise", 0.0)] = Point(s["bpp"], s["mse"], r.divergences[DIVERGENCE], s[CRITIC])
    return found


@pytest.mark.parametrize("quality", QUALITIES)
def test_acceptance_at_every_shipped_rate_the_gan_member_trades_mse_for_naturalness(points, quality):
    """Blau & Michaeli (CVPR 2018) on photographs no choice was made on (coffee, china): at the same rate (within 5 %), the
    λ_p > 0 member has more MSE and a lower NIQE than its λ_p = 0 twin. Measured when shipped (bpp, MSE, NIQE, twin →
    GAN member): quality 1 0.262 → 0.266, 0.00406 → 0.00412, 5.30 → 3.69; quality 3 0.489 → 0.492, 0.00305 → 0.00312,
    4.76 → 3.85; quality 5 0.723 → 0.727, 0.00278 → 0.00279, 4.68 → 4.36 (NIQE fitted without the held-out photographs)."""
    lam_p = max(lp for q, lp in SHIPPED_HIFIC if q == quality)
    mse_only, gan = points[quality, 0.0, 0.0], points[quality, lam_p, 0.0]
    assert abs(gan.bpp / mse_only.bpp - 1) < 0.05, (gan.bpp, mse_only.bpp)
    assert gan.mse > mse_only.mse
    assert gan.critic < mse_only.critic - 0.3


@pytest.mark.xfail(strict=True, reason="issue 22 is blocked: no shipped pair separates its patch divergences (test photographs, 208 patches: "
                                       "q1 2.26 [1.11, 2.98] → 1.92 [0.90, 2.62]; q3 1.08 → 1.09; q5 0.87 [0.08, 1.23] → 0.69 [0.00, 1.03], all "
                                       "overlapping), and at q3 and q5 none can: see the floor test below")
@pytest.mark.parametrize("quality", QUALITIES)
def test_acceptance_at_every_shipped_rate_the_gan_member_has_the_lower_patch_divergence_with_disjoint_intervals(points, quality):
    lam_p = max(lp for q, lp in SHIPPED_HIFIC if q == quality)
    mse_only, gan = points[quality, 0.0, 0.0], points[quality, lam_p, 0.0]
    assert gan.divergence.n > 200
    assert gan.divergence.ci[1] < mse_only.divergence.ci[0], f"the intervals overlap: {gan.divergence.ci} against {mse_only.divergence.ci}"


def test_the_divergence_cannot_separate_any_decoder_from_the_quality_3_and_5_twins_on_the_test_photographs(evaluation, points):
    """What blocks the acceptance above at qualities 3 and 5: with 208 patches the measurement's own spread is wider
    than the gap between those twins and perfect realism. The originals against themselves (`Evaluation.resolution`:
    what a decoder returning them exactly would read, same estimator and bootstrap) read [0, 0.31], which reaches past
    the lower ends of the q3 and q5 twins' intervals (0.20 and 0.08), so no decoder's interval can lie wholly below
    theirs. When this fails, the test photographs give enough patches (or the twins drifted far enough from the
    originals) for the acceptance to be reachable at those rates."""
    floor = evaluation.resolution()[DIVERGENCE]
    assert floor.value == 0 and floor.n == points[1, 0.0, 0.0].divergence.n
    for quality in (3, 5):
        assert floor.ci[1] > points[quality, 0.0, 0.0].divergence.ci[0], (quality, floor.ci, points[quality, 0.0, 0.0].divergence.ci)
    # quality 1 is not out of reach by this argument: its twin's interval starts above the floor
    assert floor.ci[1] < points[1, 0.0, 0.0].divergence.ci[0]


@pytest.mark.xfail(strict=True, reason="issue 22 is blocked: the stochastic member (α = 0.5) reads 2.24 [1.05, 2.93] against its "
                                       "deterministic twin's 1.92 [0.90, 2.62] on the test photographs")
@pytest.mark.parametrize("key", sorted(STOCHASTIC_HIFIC))
def test_acceptance_the_stochastic_member_is_closer_to_real_than_its_deterministic_twin(points, key):
    """Perfect realism at low rate needs randomness (Blau & Michaeli, ICML 2019): the stochastic member's patch divergence
    should be below its deterministic twin's (same quality and λ_p, α = 0) at the same rate; its MSE may be up to twice
    the MMSE's (measured: 0.00440 against the twin's 0.00412 and the λ_p = 0 member's 0.00406)."""
    quality, lam_p, _ = key
    stochastic, deterministic = points[key], points[quality, lam_p, 0.0]
    assert abs(stochastic.bpp / deterministic.bpp - 1) < 0.05
    assert stochastic.divergence.value < deterministic.divergence.value


@pytest.mark.parametrize("key", sorted(STOCHASTIC_HIFIC))
def test_the_stochastic_member_decodes_another_image_for_another_seed_and_the_same_for_the_same(key):
    torch.set_num_threads(2)
    codec = rdpkit.codec("hific", quality=key[0], lam_p=key[1], noise=key[2])
    x = rdpkit.data.load_image(f"builtin:{TEST[0]}", size=128)
    data = codec.encode(x).to_bytes()
    a, b, again = codec.decode(data, seed=0), codec.decode(data, seed=1), codec.decode(data, seed=0)
    assert torch.equal(a, again) and (a - b).abs().mean() > 1e-3


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
