"""The transforms' and entropy models' values against closed forms and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdpkit_learned_codecs.entropy.factorized_prior import FactorizedDensity
from rdpkit_learned_codecs.entropy.gaussian import (
    GaussianConditional,
    default_scale_table,
    scale_indices,
)
from rdpkit_learned_codecs.entropy.tables import MAX_VALUES, PRECISION, distance
from rdpkit_learned_codecs.networks.gdn import GDN
from scipy.stats import norm


def test_gdn_and_igdn_follow_their_formula():
    torch.manual_seed(0)
    gdn, igdn = GDN(3).double(), GDN(3, inverse=True).double()
    beta = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    gamma = torch.tensor([[0.1, 0.02, 0.0], [0.03, 0.2, 0.01], [0.0, 0.05, 0.3]], dtype=torch.float64)
    for m in (gdn, igdn):
        m.beta.data = torch.sqrt(beta + 2.0**-36)
        m.gamma.data = torch.sqrt(gamma + 2.0**-36)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    norm2 = beta.view(1, 3, 1, 1) + torch.einsum("ij,njhw->nihw", gamma, x**2)
    torch.testing.assert_close(gdn(x), x / norm2.sqrt(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(igdn(x), x * norm2.sqrt(), rtol=1e-12, atol=1e-12)


def test_factorized_density_is_a_distribution_over_the_integers():
    torch.manual_seed(0)
    density = FactorizedDensity(4).double()
    with torch.no_grad():
        density.biases[0].mul_(20)  # spread the channels' medians apart
    v = torch.arange(-400, 401, dtype=torch.float64).view(1, 1, 1, -1).expand(1, 4, 1, -1)
    p = density.likelihood(v)
    # The probabilities of the integers telescope to c(∞) − c(−∞) = 1.
    torch.testing.assert_close(p.sum(-1).ravel(), torch.ones(4, dtype=torch.float64), rtol=0, atol=1e-6)


def test_factorized_tables_cover_the_mass_and_match_the_density():
    torch.manual_seed(1)
    density = FactorizedDensity(3)
    tables = density.tables()
    for ch in range(3):
        row = tables.row(ch)
        assert row.sum() == 2**PRECISION and row.min() >= 1 and row.size - 1 <= MAX_VALUES
        v = torch.arange(int(tables.lows[ch]), int(tables.lows[ch]) + row.size - 1, dtype=torch.float64)
        p = density.double().likelihood(v.view(1, 1, 1, -1).expand(1, 3, 1, -1))[0, ch, 0].detach().numpy()
        assert p.sum() > 1 - 1e-6  # all but the tail mass
        assert np.abs(row[:-1] / 2**PRECISION - p).max() < 64 / 2**PRECISION  # 16-bit rounding, with every symbol ≥ 1


def test_gaussian_likelihood_matches_scipy():
    g = GaussianConditional().double()
    y = torch.tensor([-3.0, -0.4, 0.0, 0.7, 5.0, 40.0], dtype=torch.float64)
    s = torch.tensor([0.5, 1.0, 0.11, 2.0, 3.0, 0.2], dtype=torch.float64)
    mu = torch.tensor([0.0, 0.3, 0.0, -1.0, 4.5, 0.0], dtype=torch.float64)
    ref = norm.cdf(y + 0.5, loc=mu, scale=s) - norm.cdf(y - 0.5, loc=mu, scale=s)
    np.testing.assert_allclose(g.likelihood(y, s, mu).numpy(), np.maximum(ref, 1e-9), rtol=1e-9, atol=1e-15)


def test_gaussian_tables_match_the_discretised_normal():
    g = GaussianConditional()
    tables = g.tables()
    assert len(tables) == 64
    for j in (0, 20, 63):
        s = float(g.scale_table[j])
        v = np.arange(int(tables.lows[j]), int(tables.lows[j]) + tables.sizes[j] - 1)
        exact = norm.cdf(v + 0.5, scale=s) - norm.cdf(v - 0.5, scale=s)
        assert 0.5 * np.abs(tables.row(j)[:-1] / 2**PRECISION - exact).sum() < tables.sizes[j] / 2**PRECISION


def test_scale_index_is_the_first_table_scale_not_below_sigma():
    g = GaussianConditional()
    table = default_scale_table().double()
    sigma = torch.exp(torch.empty(5000, dtype=torch.float64).uniform_(np.log(0.05), np.log(400)))
    fixed = torch.floor(sigma * 2**12).long()
    idx = scale_indices(fixed, g.thresholds(12))
    # Reference: CompressAI's rule on the fixed-point σ; away from ties it is the float rule.
    value = fixed.double() / 2**12
    ref = torch.tensor([int((table[:-1] < v).sum()) for v in value])
    assert torch.equal(idx, ref)


def test_tables_of_another_model_are_far_apart():
    torch.manual_seed(2)
    a, b = FactorizedDensity(3).tables(), FactorizedDensity(3).tables()
    assert distance(a, a) == 0 and distance(a, b) > 0.05
    assert distance(a, GaussianConditional().tables()) == pytest.approx(1.0)


def test_transforms_shrink_by_their_strides_and_synthesis_takes_extra_channels():
    from rdpkit_learned_codecs.networks.transforms import (
        analysis,
        hyper_analysis,
        hyper_synthesis,
        synthesis,
    )

    x = torch.rand(2, 3, 64, 128)
    y = analysis(8, 12)(x)
    assert y.shape == (2, 12, 4, 8)
    assert synthesis(8, 12)(y).shape == x.shape
    noise = torch.rand(2, 5, 4, 8)
    assert synthesis(16, 12, extra_channels=5)(torch.cat([y, noise], 1)).shape == x.shape
    for mean in (False, True):
        z = hyper_analysis(8, 12, mean)(y)
        assert z.shape == (2, 8, 1, 2) and hyper_synthesis(8, 12, mean)(z).shape == (2, 24 if mean else 12, 4, 8)
