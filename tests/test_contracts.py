"""The contract tests of rdpkit.testing catch what they promise to catch."""

from __future__ import annotations

import pytest
import torch

import rdpkit
import rdpkit.testing as rt
from rdpkit.interfaces import Critic, Divergence, Estimate


class Float32Critic(Critic):
    """Scores in float32 whatever the input's dtype."""

    def _score(self, x):
        return x.float().mean((1, 2, 3))


class Unstated(Divergence):
    """A divergence that does not say what its value is."""

    def _estimate(self, p, q):
        return Estimate(float((p.mean(0) - q.mean(0)).norm()), 0.1, len(p))


class MeansOnly(Divergence):
    """The gap between means beyond what sampling explains: blind to everything but the mean."""

    quantity = "mean gap"

    def _estimate(self, p, q):
        gap = float((p.double().mean(0) - q.double().mean(0)).norm())
        return Estimate(max(0.0, gap - 1.0), 0.01, len(p), self.quantity)


def test_a_critic_that_drops_float64_is_caught():
    with pytest.raises(AssertionError, match="float32 for torch.float64 input|is torch.float32"):
        rt.check_critic(Float32Critic(), max_examples=8)


def test_a_divergence_that_does_not_state_its_quantity_is_caught():
    with pytest.raises(AssertionError, match="does not say what its value is"):
        rt.check_divergence(Unstated())


def test_a_divergence_blind_to_all_but_the_mean_is_caught():
    with pytest.raises(AssertionError, match="times the spread, same mean"):
        rt.check_divergence(MeansOnly())


def test_rdpkit_own_components_pass():
    rt.check_critic(rdpkit.critic("niqe", patch=16), max_examples=4)
    rt.check_divergence(rdpkit.divergence("mmd"))
    assert torch.is_tensor(rdpkit.distortion("mse")(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)))
