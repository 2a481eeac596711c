"""One sweep trial with rdpkit's own components: what it measures, against independent computations."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import rdpkit
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.trial import dataset, run_trial

SPEC = {
    "data": {"source": "digits", "limit": 240},
    "codec": [{"name": "sq", "grid": {"levels": [4]}}],
    "evaluate": {"distortions": ["mse"], "divergences": ["wasserstein-sliced"], "critic": "wasserstein-critic",
                 "critic_options": {"steps": 20, "hidden": 16}, "samples": 6},
}


@pytest.fixture(scope="module")
def trial():
    config = SweepConfig.from_dict(SPEC)
    config.validate(rdpkit.get_registry())
    (t,) = config.trials()
    return t, run_trial(t)


def test_rate_distortion_and_perception_match_independent_computations(trial):
    config, outcome = trial
    assert outcome.error is None, outcome.error
    r = outcome.result
    train, reference, test = dataset(config["data"])
    assert (len(train), len(reference), len(test)) == (120, 60, 60)
    codec = rdpkit.codec("sq", levels=4)
    data = codec.encode(test).to_bytes()
    assert r["rate"]["bits_per_image"] == 8 * len(data) / 60 and r["rate"]["bpp"] == 8 * len(data) / (60 * 64)
    x_hat = codec.decode(data, seed=0)
    per_image = ((test - x_hat) ** 2).flatten(1).mean(1).double().numpy()
    assert r["distortion"]["mse"]["mean"] == pytest.approx(per_image.mean(), rel=1e-9)
    assert r["distortion"]["mse"]["stderr"] == pytest.approx(per_image.std(ddof=1) / np.sqrt(60), rel=1e-6)
    sliced = rdpkit.divergence("wasserstein-sliced").estimate(reference, x_hat)
    assert r["divergences"]["wasserstein-sliced"]["value"] == pytest.approx(sliced.value, rel=1e-6)
    assert r["perception"]["name"] == "wasserstein-critic" and r["perception"]["quantity"] == "W1"
    assert r["perception"]["stderr"] > 0 and r["perception"]["n"] > 0


def test_the_result_records_provenance(trial):
    _, outcome = trial
    r = outcome.result
    assert r["device"] == "cpu" and r["threads"] == 1 and r["wall_seconds"] > 0
    assert {"python", "torch", "numpy"} <= set(r["software"])
    assert r["components"]["codec"]["name"] == "sq" and r["components"]["codec"]["distribution"] == "rdpkit"
    assert {"distortion:mse", "divergence:wasserstein-critic", "divergence:wasserstein-sliced"} <= set(r["components"])
    samples = Image.open(io.BytesIO(outcome.artifacts["samples.png"]))
    assert samples.size == (6 * 9 - 1, 8)  # six 8×8 digits with 1-pixel gaps


def test_a_trial_is_deterministic_under_its_seed(trial):
    config, outcome = trial
    again = run_trial(config)
    for part in ("rate", "distortion", "divergences", "perception"):
        assert again.result[part] == outcome.result[part]
    other = run_trial({**config, "seed": 1})
    assert other.result["perception"]["value"] != outcome.result["perception"]["value"], "the critic must follow the trial's seed"


def test_a_trial_that_cannot_be_measured_fails_with_the_sentence():
    config = SweepConfig.from_dict({**SPEC, "data": {"source": "digits", "limit": 8, "split": [0.5, 0.375, 0.125]}}).trials()[0]
    outcome = run_trial(config)
    assert outcome.result is None
    assert outcome.error.startswith("InputError: samples_q has 1 sample(s); a divergence needs at least 2")
