"""rdpkit-pim: the registered `pim` distortion, its shipped checkpoint and the acceptance checks.

(a) and (b) of the issue run here on a reduced set; the full table and (c), the recovery
test, are in benchmarks/bench_pim_sanity.py.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rdpkit
import rdpkit.testing as rt
from rdpkit import weights
from rdpkit.data import load_images
from rdpkit_pim import checkpoint, plugin
from rdpkit_pim.distortion import PIM
from rdpkit_pim.sanity import LADDERS, ordering, shift_vs_noise


@pytest.fixture(scope="module")
def pim() -> PIM:
    return rt.fresh_registry(plugin).create("distortion", "pim")


@pytest.fixture(scope="module")
def held_out() -> torch.Tensor:
    # Never seen in training (rdpkit_pim.pairs.HELD_OUT_IMAGES).
    return load_images(["builtin:chelsea", "builtin:coffee"], size=96)


def test_registered_with_metadata():
    info = rt.fresh_registry(plugin).info("distortion", "pim")
    assert info.differentiable and info.needs_weights and "NeurIPS 2020" in info.citation


def test_found_through_the_entry_point():
    assert "pim" in rdpkit.available("distortion")


def test_axioms(pim):
    rt.check_distortion(pim, max_examples=8)


def test_identical_images_give_exactly_zero(pim, held_out):
    assert torch.equal(pim(held_out, held_out), torch.zeros(2))


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1))
def test_symmetric(pim, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(2, 1, 3, 24, 24, generator=g)
    assert torch.allclose(pim(x, y), pim(y, x), rtol=1e-5, atol=1e-7)


def test_grey_images_count_as_three_equal_channels(pim, held_out):
    grey = held_out.mean(1, keepdim=True)
    noisy = (grey + 0.05 * torch.randn(grey.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert torch.allclose(pim(grey, noisy), pim(grey.expand(-1, 3, -1, -1), noisy.expand(-1, 3, -1, -1)))


def test_shift_is_closer_than_noise_of_equal_mse(pim, held_out):
    # (b): MSE cannot separate the two and SSIM prefers the noise; PIM must prefer the shift.
    for d_shift, d_noise in shift_vs_noise(pim, held_out):
        assert d_shift < d_noise


def test_orders_at_least_90_percent_of_severity_pairs(pim, held_out):
    # (a) on a reduced set: two held-out images, three severities of each kind of damage.
    reduced = {k: (spec, (levels[0], levels[2], levels[3])) for k, (spec, levels) in LADDERS.items()}
    result = ordering(pim, held_out, reduced)
    correct, pairs = sum(o.correct for o in result.values()), sum(o.pairs for o in result.values())
    assert pairs == 5 * 2 * 3 and correct / pairs >= 0.9, {k: o.fraction for k, o in result.items()}


def test_gradient_flows_to_the_distorted_image(pim, held_out):
    y = held_out.flip(-1).clone().requires_grad_(True)
    pim(held_out, y).sum().backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0


def test_shipped_checkpoint_matches_its_record():
    record = json.loads(weights.record_path(checkpoint.SHIPPED).read_text())
    assert record["sha256"] == checkpoint.SHIPPED_SHA256 == weights.sha256(checkpoint.SHIPPED)
    assert checkpoint.SHIPPED.stat().st_size < 2_000_000
    assert record["command"].startswith("rdpkit-pim train") and record["training_wall_s"] < 30 * 60
    assert {"seed", "data", "versions"} <= set(record)


def test_bad_options_are_one_sentence():
    with pytest.raises(rdpkit.InputError, match="only checked for a checkpoint you name"):
        PIM(sha256="0" * 64)
    with pytest.raises(rdpkit.InputError, match="must be the path of a file"):
        PIM(checkpoint=3)


def test_four_channel_images_are_refused(pim):
    x = torch.rand(1, 4, 32, 32)
    with pytest.raises(rdpkit.InputError, match="3 or 1 channels"):
        pim(x, x)


def test_too_small_images_are_refused(pim):
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(rdpkit.InputError, match="at least 16×16"):
        pim(x, x)


def test_the_distribution_states_its_licence():
    # `rdpkit plugins` shows the licence the installed metadata states (reinstall after editing pyproject.toml).
    import importlib.metadata

    assert importlib.metadata.metadata("rdpkit-pim").get("License-Expression") == "MIT"


def test_pim_representation_as_a_feature_extractor():
    f = rdpkit.features("pim")
    assert f.feature_kind == "self-trained" and f.info.distribution == "rdpkit-pim"
    rt.check_features(f, max_examples=3)
    x = rdpkit.load_source("builtin:held-out", size=64)
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    same = rdpkit.divergence("frechet", extractor="pim").estimate(torch.cat([x, x]), torch.cat([x, x])).value
    far = rdpkit.divergence("frechet", extractor="pim").estimate(torch.cat([x, x]), torch.cat([noisy, noisy])).value
    assert same < 1e-9 < far, "noise moves the images in PIM's space"
