"""KID and MMD on paired sets (a patch and its own decoding): the paired U-statistic against a plain double
loop written here, the field's two-sample form against the same loop and torchmetrics, and the patch
scores a meter reports (form and n in the quantity, few patches marked unreliable)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rdpkit
from rdpkit import testing
from rdpkit.interfaces import Estimate
from rdpkit.measures.meter import MIN_PATCHES, Measures, PatchScores
from rdpkit.options import Component


def cubic(a: np.ndarray, b: np.ndarray) -> float:
    """The KID kernel (aᵀb/d + 1)³ (Bińkowski et al. 2018)."""
    return float((a @ b / len(a) + 1) ** 3)


def gaussian(sigma: float):
    return lambda a, b: float(np.exp(-((a - b) ** 2).sum() / (2 * sigma**2)))


def paired_loop(x: np.ndarray, y: np.ndarray, k) -> float:
    """Σ_{i≠j} [k(xᵢ,xⱼ) + k(yᵢ,yⱼ) − k(xᵢ,yⱼ) − k(xⱼ,yᵢ)] / (n(n−1)): no matched term k(xᵢ, yᵢ)."""
    n = len(x)
    total = sum(k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(x[j], y[i]) for i in range(n) for j in range(n) if i != j)
    return total / (n * (n - 1))


def two_sample_loop(x: np.ndarray, y: np.ndarray, k) -> float:
    """The two-sample MMD²ᵤ: within-set pairs i ≠ j, every cross pair, the matched ones included."""
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    return xx + yy - 2 * sum(k(a, b) for a in x for b in y) / (n * m)


def decoded(n: int, d: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n 'originals' and their 'decodings': each row of the second set is its row of the first plus small noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, x + noise * torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.fixture(scope="module")
def registry():
    return testing.fresh_registry()


def test_paired_kid_is_the_u_statistic_without_matched_terms(registry):
    x, y = decoded(40, 6, 0.3, seed=1)
    est = registry.create("divergence", "kid", paired=True).estimate(x, y)
    assert est.value == pytest.approx(paired_loop(x.numpy(), y.numpy(), cubic), rel=1e-9, abs=1e-12)
    assert est.quantity.startswith("KID (paired u-statistic)") and est.n == 40
    assert est.details["paired"] is True


def test_the_field_form_is_the_two_sample_statistic_of_torchmetrics(registry):
    from torchmetrics.image.kid import KernelInceptionDistance

    class Identity(torch.nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.num_features = dim

        def forward(self, x):
            return x

    x, y = decoded(40, 6, 0.3, seed=2)
    est = registry.create("divergence", "kid").estimate(x, y)
    assert est.value == pytest.approx(two_sample_loop(x.numpy(), y.numpy(), cubic), rel=1e-9)
    assert est.quantity.startswith("KID (torch-fidelity's form)")
    tm = KernelInceptionDistance(feature=Identity(6), subsets=1, subset_size=40, normalize=True)
    tm.update(x.float(), real=True)
    tm.update(y.float(), real=False)
    assert est.value == pytest.approx(float(tm.compute()[0]), rel=1e-4)


def test_on_decodings_the_field_form_reads_negative_and_the_paired_one_does_not(registry):
    """Before: only the field's form, −0.48 here (3.2 standard errors below 0, where the true KID is positive); paired: 0.040."""
    x, y = decoded(30, 8, 0.5, seed=3)
    paired = registry.create("divergence", "kid", paired=True).estimate(x, y)
    field = registry.create("divergence", "kid").estimate(x, y)
    assert field.value < -3 * field.stderr
    assert paired.value > 0 and paired.value > field.value + 3 * field.stderr


def test_paired_mmd_is_the_u_statistic_without_matched_terms(registry):
    x, y = decoded(25, 3, 0.4, seed=4)
    est = registry.create("divergence", "mmd", bandwidth=1.5, paired=True).estimate(x, y)
    assert est.value == pytest.approx(paired_loop(x.numpy(), y.numpy(), gaussian(1.5)), rel=1e-9, abs=1e-14)
    assert "paired u-statistic" in est.quantity
    two = registry.create("divergence", "mmd", bandwidth=1.5).estimate(x, y)
    assert two.value == pytest.approx(two_sample_loop(x.numpy(), y.numpy(), gaussian(1.5)), rel=1e-9, abs=1e-14)
    assert "two-sample" in two.quantity


def test_paired_subsets_take_the_same_pairs_from_both_sets(registry):
    x, y = decoded(30, 4, 0.2, seed=5)
    whole = registry.create("divergence", "kid", paired=True).estimate(x, y).value
    # Subsets as large as the set are permutations of the same pairs: the paired statistic cannot change.
    assert registry.create("divergence", "kid", paired=True, subsets=5, subset_size=30).estimate(x, y).value == pytest.approx(whole, rel=1e-12)


def test_one_set_twice_paired_gives_zero_with_a_zero_interval_the_data_give(registry):
    """Every pair resampled is (x, x), so every replicate is 0: the only case where (0, 0) is the data's interval."""
    x, _ = decoded(20, 4, 0.0, seed=6)
    est = registry.create("divergence", "kid", paired=True).estimate(x, x, bootstrap=20)
    assert est.value == 0.0 and est.ci == (0.0, 0.0)


def test_paired_sets_of_two_sizes_are_one_sentence(registry):
    x, y = decoded(20, 4, 0.1, seed=7)
    for name in ("kid", "mmd"):
        with pytest.raises(rdpkit.InputError, match=r"paired=true compares sample i .* samples_p has 20 samples and samples_q 19"):
            registry.create("divergence", name, paired=True).estimate(x, y[:19])
    with pytest.raises(rdpkit.InputError, match="'paired' .*must be true or false"):
        registry.create("divergence", "kid", paired="yes")


def meter_scores(registry, images: int, size: int) -> PatchScores:
    g = torch.Generator().manual_seed(8)
    x = torch.rand(images, 3, size, size, generator=g)
    x_hat = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    meter = Measures(features=Component("nss", {"patch": 16}), features_patch=32).meter(registry)
    meter.update(x, x_hat)
    scores = meter.compute().patch_scores
    assert scores is not None
    return scores


def test_patch_scores_are_paired_state_their_form_and_n_and_mark_few_patches_unreliable(registry):
    """Before: 'KID on hand-crafted features (nss,patch=16)', the two-sample form, with no n and no warning."""
    few = meter_scores(registry, 1, 64)  # 4 + 1 patches of 32²
    n = few.patches
    assert n < MIN_PATCHES
    assert few.kid.quantity == f"KID (paired u-statistic) on hand-crafted features (nss,patch=16), n = {n} patch pairs"
    assert few.kid_field is not None and few.kid_field.quantity.startswith("KID (torch-fidelity's form)")
    assert f"n = {n} patch pairs" in few.fid.quantity and few.fid.n == few.kid.n == n
    for est in (few.fid, few.kid, few.kid_field):
        assert est.details["unreliable"].startswith(f"fewer than {MIN_PATCHES} patches ({n})")
    assert "singular" in few.fid.details["unreliable"]  # 5 patches, 36 features
    enough = meter_scores(registry, 4, 128)
    assert enough.patches >= MIN_PATCHES
    assert all("unreliable" not in e.details for e in (enough.fid, enough.kid, enough.kid_field))
    assert enough.kid.details["paired"] is True and enough.kid.ci[0] <= enough.kid.value <= enough.kid.ci[1]


def test_patch_scores_round_trip_and_read_records_without_the_field_form(registry):
    scores = meter_scores(registry, 1, 64)
    assert PatchScores.from_dict(scores.as_dict()) == scores
    old = scores.as_dict()
    del old["kid_field"]
    assert PatchScores.from_dict(old).kid_field is None
    assert PatchScores.from_dict(old).kid == Estimate.from_dict(old["kid"])
    assert math.isfinite(scores.kid.value)
