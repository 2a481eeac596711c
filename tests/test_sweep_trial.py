"""One sweep trial with rdpkit's own components: what it measures, against independent computations."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import rdpkit
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.runner import sweep_trials
from rdpkit.sweep.trial import SweepResult, SweepTrial, dataset

SPEC = {
    "data": {"source": "digits", "limit": 240},
    "codec": [{"name": "sq", "grid": {"levels": [4]}}],
    "evaluate": {"distortions": ["mse"], "divergences": ["wasserstein-sliced"], "perception": "wasserstein-critic,steps=20,hidden=16",
                 "critics": ["niqe,patch=8"], "samples": 6},
}
REGISTRY = rdpkit.get_registry()


def run(trial: SweepTrial) -> SweepResult:
    record, artifacts = trial.run("cpu", REGISTRY).to_record()
    return SweepResult.from_record(json.loads(json.dumps(record)), artifacts)  # as the store gives it back


@pytest.fixture(scope="module")
def trial():
    config = SweepConfig.from_dict(SPEC)
    config.validate(REGISTRY)
    (t,) = sweep_trials(config).values()
    return t, run(t)


def test_rate_distortion_and_perception_match_independent_computations(trial):
    t, r = trial
    train, reference, test = dataset(t.data)
    assert (len(train), len(reference), len(test)) == (120, 60, 60)
    codec = rdpkit.codec("sq", levels=4)
    data = codec.encode(test).to_bytes()
    assert r.rate.bits_per_image == 8 * len(data) / 60 and r.rate.bpp == 8 * len(data) / (60 * 64) and r.rate.bytes == len(data)
    x_hat = codec.decode(data, seed=0)
    per_image = ((test - x_hat) ** 2).flatten(1).mean(1).double().numpy()
    assert r.distortions["mse"].mean == pytest.approx(per_image.mean(), rel=1e-9)
    assert r.distortions["mse"].stderr == pytest.approx(per_image.std(ddof=1) / np.sqrt(60), rel=1e-6)
    sliced = rdpkit.divergence("wasserstein-sliced").estimate(reference, x_hat)
    assert r.divergences["wasserstein-sliced"].value == pytest.approx(sliced.value, rel=1e-6)
    assert r.perception.name == "wasserstein-critic,steps=20,hidden=16" and r.perception.kind == "divergence" and r.perception.estimate.quantity == "W1"
    assert r.perception.stderr > 0 and r.perception.estimate.n > 0
    niqe = rdpkit.critic("niqe", patch=8).score(x_hat).double()
    assert r.critics["niqe,patch=8"].mean == pytest.approx(float(niqe.mean()), rel=1e-6), "a registered critic as a no-reference evaluation"


def test_the_result_records_provenance(trial):
    _, r = trial
    assert r.device == "cpu" and r.wall_seconds > 0 and r.encode_seconds > 0 and r.decode_seconds > 0
    assert {"python", "torch", "numpy"} <= set(r.software)
    assert r.components["codec"]["name"] == "sq" and r.components["codec"]["distribution"] == "rdpkit"
    assert {"distortion:mse", "divergence:wasserstein-critic,steps=20,hidden=16", "divergence:wasserstein-sliced", "critic:niqe,patch=8"} <= set(r.components)
    samples = Image.open(io.BytesIO(r.samples))
    assert samples.size == (6 * 9 - 1, 8)  # six 8×8 digits with 1-pixel gaps


def test_a_trial_is_deterministic_under_its_seed(trial):
    t, r = trial
    again = run(t)
    assert (again.rate, again.distortions, again.divergences, again.perception) == (r.rate, r.distortions, r.divergences, r.perception)
    other = run(SweepTrial(t.codec, t.label, t.fit, 1, t.data, t.evaluate))
    assert other.perception.value != r.perception.value, "the critic must follow the trial's seed"


def test_a_perception_critic_gives_the_index():
    spec = {**SPEC, "evaluate": {"distortions": ["mse"], "perception": "niqe,patch=8", "samples": 0}}
    (t,) = sweep_trials(SweepConfig.from_dict(spec)).values()
    r = run(t)
    assert r.perception.kind == "critic" and r.perception.value == r.critics["niqe,patch=8"].mean and r.samples is None


def test_a_trial_that_cannot_be_measured_fails_with_the_sentence():
    from rdpkit.trial import Task, run_task

    (t,) = sweep_trials(SweepConfig.from_dict({**SPEC, "data": {"source": "digits", "limit": 8, "split": [0.5, 0.375, 0.125]}})).values()
    outcome = run_task(Task([t], "cpu"))
    assert not outcome.records
    assert outcome.error.startswith("InputError: samples_q has 1 sample(s); a divergence needs at least 2")


def test_divergences_on_patches_compare_every_patch_of_both_sets():
    from rdpkit.patches import patches

    spec = {"data": {"source": "builtin:astronaut,coffee,china,chelsea", "size": 48, "split": [0.0, 0.5, 0.5]},
            "codec": [{"name": "jpeg", "grid": {"quality": [10]}}],
            "evaluate": {"distortions": ["mse"], "perception": "wasserstein-sliced", "divergences": ["mmd"], "critics": ["niqe,patch=8"],
                         "samples": 0, "patch": 16}}
    (t,) = sweep_trials(SweepConfig.from_dict(spec)).values()
    r = run(t)
    _, reference, test = dataset(t.data)
    x_hat = rdpkit.codec("jpeg", quality=10).decode(rdpkit.codec("jpeg", quality=10).encode(test).to_bytes(), seed=0)
    real, decoded = patches(reference, 16), patches(x_hat, 16)
    assert len(real) == len(decoded) == 2 * (9 + 4)  # a 3×3 grid and the 2×2 grid shifted by 8, per image
    want = rdpkit.divergence("wasserstein-sliced", seed=0).estimate(real, decoded)
    assert r.perception.estimate.n == want.n and r.perception.value == pytest.approx(want.value, rel=1e-6)
    assert r.perception.name == "wasserstein-sliced on 16×16 patches"
    assert r.divergences["mmd"].value == pytest.approx(rdpkit.divergence("mmd").estimate(real, decoded).value, rel=1e-6)
    niqe = rdpkit.critic("niqe", patch=8).score(x_hat).double()
    assert r.critics["niqe,patch=8"].mean == pytest.approx(float(niqe.mean()), rel=1e-6), "critics still see whole images"


def test_patch_off_keeps_the_identity_of_stores_written_before_it():
    config = SweepConfig.from_dict(SPEC)
    assert "patch" not in config.evaluate.identity()
    assert SweepConfig.from_dict({**SPEC, "evaluate": {**SPEC["evaluate"], "patch": 4}}).evaluate.identity()["patch"] == 4


def test_a_patch_larger_than_the_images_is_refused_before_anything_runs():
    config = SweepConfig.from_dict({**SPEC, "evaluate": {**SPEC["evaluate"], "patch": 9}})
    with pytest.raises(rdpkit.InputError, match=r"\[evaluate\] patch = 9 is larger than the sweep's 8×8 images"):
        config.validate(REGISTRY)


def test_the_perception_weight_column_is_named_as_the_codec_names_it(trial):
    from dataclasses import replace

    _, r = trial
    assert r.perception_weight is None and "lam" not in r.row() and r.row()["weight_option"] == ""
    hific_like = replace(r, perception_weight="lam_p", lam=0.15).row()
    assert hific_like["lam_p"] == 0.15 and hific_like["weight"] == 0.15 and hific_like["weight_option"] == "lam_p" and "lam" not in hific_like
