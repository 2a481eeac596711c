"""How a plugin tests itself: the contract tests of rdpkit.testing plus its own reference values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rdpkit
import rdpkit.testing as rt
from rdpkit_example import plugin


@pytest.fixture
def registry(rdpkit_registry):
    # rdpkit_registry is a fresh registry with entry points off; register the plugin in-process.
    rdpkit_registry.register(plugin, distribution="rdpkit-example")
    return rdpkit_registry


def test_registered_with_metadata(registry):
    info = registry.info("distortion", "charbonnier")
    assert info.differentiable and info.distribution == "rdpkit-example"


def test_axioms(registry):
    rt.check_distortion(registry.create("distortion", "charbonnier"))


def test_matches_numpy_reference(registry):
    d = registry.create("distortion", "charbonnier", eps=0.01)
    x, y = torch.rand(2, 3, 8, 8, dtype=torch.float64), torch.rand(2, 3, 8, 8, dtype=torch.float64)
    e = (x - y).numpy()
    ref = (np.sqrt(e**2 + 1e-4) - 0.01).reshape(2, -1).mean(1)
    assert np.allclose(d(x, y).numpy(), ref, rtol=1e-12)


def test_bad_option_is_one_sentence(registry):
    with pytest.raises(rdpkit.InputError, match="eps must be positive"):
        registry.create("distortion", "charbonnier", eps=0)


def test_found_through_the_entry_point():
    # Installed with pip, the plugin is in the default registry too.
    assert "charbonnier" in rdpkit.available("distortion")


def test_the_flawed_metric_obeys_the_axioms_and_has_its_blind_spot(registry):
    import torch.nn.functional as F

    from rdpkit.recovery import recover

    d = registry.create("distortion", "pooled-mse")
    rt.check_distortion(d, max_examples=4)
    x = 0.25 + 0.5 * rdpkit.load_image("builtin:astronaut", size=64)
    noise = 0.2 * torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) - 0.1
    # Inside each block, any pattern with the block's mean scores 0: the metric cannot see it.
    y = x + noise - F.interpolate(F.avg_pool2d(noise, 8), scale_factor=8)
    assert float(d(x, y)) < 1e-12 and float(rdpkit.psnr(x, y)) < 30  # far from x by the recovery test's own threshold
    r = recover(d, "builtin:astronaut", "noise", size=64, steps=300, device="cpu")
    assert r.verdict.label == "blind spot", r.verdict.reason


def test_the_distribution_states_its_licence():
    # `rdpkit plugins` shows the licence the installed metadata states (reinstall after editing pyproject.toml).
    import importlib.metadata

    assert importlib.metadata.metadata("rdpkit-example").get("License-Expression") == "MIT"
