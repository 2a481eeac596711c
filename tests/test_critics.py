"""Critics: the WGAN-GP penalty and its traps, the trainable critics, and NIQE fitted in rdpkit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from test_divergences import one_thread  # noqa: F401  (single-thread autouse fixture: these are tiny networks)
from torch import nn

import rdpkit
from rdpkit import testing
from rdpkit.critics.classifier import ClassifierCritic
from rdpkit.critics.niqe import NIQE, aggd, mscn
from rdpkit.critics.wgan import (
    WGANGPCritic,
    gradient_penalty,
    held_out_w1,
    make_critic_net,
)
from rdpkit.data import digits, load_image
from rdpkit.degrade import degrade


class Slope(nn.Module):
    """f(x) = a·x in 1-D, started at a given slope: the critic of the sign-lock trap."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * x.flatten()


def point_masses(w: float, n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples at 0 and n at w: W1 = w, and interpolates cover the segment between."""
    return torch.zeros(n, 1), torch.full((n, 1), w)


# -- gradient penalty -------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "one_sided", "expected"), [(0.5, True, 0.0), (0.5, False, 0.25), (3.0, True, 4.0), (3.0, False, 4.0), (-2.0, True, 1.0)])
def test_gradient_penalty_closed_form_on_a_linear_critic(a, one_sided, expected):
    real, fake = torch.randn(64, 1), torch.randn(64, 1)
    assert float(gradient_penalty(Slope(a), real, fake, one_sided=one_sided).detach()) == pytest.approx(expected, abs=1e-6)


def test_gradient_penalty_is_differentiable_in_the_critic_parameters():
    net = make_critic_net((1, 8, 8), hidden=16)
    gp = gradient_penalty(net, torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8), one_sided=False)
    gp.backward()
    # Every parameter but the output bias shapes ∇ₓf.
    weights = [p for name, p in net.named_parameters() if name != "head.bias"]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in weights)
    with pytest.raises(rdpkit.InputError, match="one shape"):
        gradient_penalty(net, torch.rand(4, 1, 8, 8), torch.rand(3, 1, 8, 8))


def test_make_critic_net_maps_batches_to_scalars():
    for shape in [(5,), (1, 8, 8), (3, 32, 32), (3, 40, 24)]:
        assert make_critic_net(shape, hidden=32)(torch.rand(7, *shape)).shape == (7,)
    assert any(isinstance(m, nn.Conv2d) for m in make_critic_net((3, 32, 32)).modules())
    assert not any(isinstance(m, nn.Conv2d) for m in make_critic_net((1, 8, 8)).modules())


# -- the two WGAN-GP traps ----------------------------------------------------------------------


def test_trap_two_sided_penalty_locks_a_1d_critic_onto_the_wrong_sign_and_one_sided_does_not():
    real, fake = point_masses(2.0)
    real, fake = fake, real  # real at 2, fake at 0: the right slope is positive
    results = {}
    for one_sided in (False, True):
        critic = WGANGPCritic(net=Slope(-1.0)).fit(real, fake, steps=400, lr=0.01, gp_weight=10.0, one_sided=one_sided)
        results[one_sided] = critic.w1(real, fake).value
    assert results[False] < 0, "two-sided: held at a negative slope (local optimum near a = −1 + W/(2λ))"
    assert results[True] == pytest.approx(2.0 * (1 + 2.0 / 20), rel=0.05)


@pytest.mark.parametrize(("w", "gp_weight"), [(2.0, 2.0), (3.0, 10.0)])
def test_trap_critic_overestimates_w1_by_about_w_squared_over_2_lambda(w, gp_weight):
    fake, real = point_masses(w)
    critic = WGANGPCritic(net=Slope(0.0)).fit(real, fake, steps=500, lr=0.02, gp_weight=gp_weight)
    estimate = critic.w1(real, fake).value
    assert estimate - w == pytest.approx(w**2 / (2 * gp_weight), rel=0.05)


# -- WGAN-GP critic -----------------------------------------------------------------------------


def test_held_out_w1_orders_pairs_of_image_sets():
    x = digits()
    real, rest = x[:600], x[600:1200]
    slightly = degrade(rest, "blur:0.6", seed=0)
    heavily = degrade(rest, "blur:2", seed=0)
    near = held_out_w1(real, slightly, steps=150, hidden=64, seed=0)
    far = held_out_w1(real, heavily, steps=150, hidden=64, seed=0)
    assert near.value < far.value
    assert near.quantity == far.quantity == "W1" and near.n == 300


def test_fitted_wgan_critic_scores_real_images_lower_and_obeys_the_critic_contract():
    g = torch.Generator().manual_seed(0)
    real = load_image("builtin:astronaut", size=32).expand(32, -1, -1, -1) * (0.9 + 0.1 * torch.rand(32, 1, 1, 1, generator=g))
    fake = torch.rand(32, 3, 32, 32, generator=g)
    critic = WGANGPCritic(hidden=16).fit(real, fake, steps=30, batch_size=16)
    assert critic.fitted and critic.feature_kind == "trained-critic"
    assert float(critic.score(real).mean()) < float(critic.score(fake).mean())
    testing.check_critic(critic, max_examples=3)


def test_unfitted_critic_warns_and_refuses_other_shapes():
    critic = WGANGPCritic(hidden=8)
    with pytest.warns(RuntimeWarning, match="not been fitted"):
        critic.score(torch.rand(2, 1, 8, 8))
    assert critic.feature_kind == "random-feature"
    with pytest.raises(rdpkit.InputError, match="one critic per data shape"):
        critic.score(torch.rand(2, 3, 8, 8))
    with pytest.raises(rdpkit.InputError, match="gp_weight"):
        critic.fit(torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8), gp_weight=0)
    with pytest.raises(rdpkit.InputError, match="holdout"):
        held_out_w1(torch.rand(10, 2), torch.rand(10, 2), holdout=1.0)


# -- classifier critic ------------------------------------------------------------------------


def test_classifier_critic_tv_bound_and_scores():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g) + torch.tensor([4.0, 0.0])
    clf = ClassifierCritic(hidden=32).fit(real[:200], fake[:200], steps=200)
    est = clf.tv_lower_bound(real[200:], fake[200:])
    assert est.value == pytest.approx(est.details["tpr"] + est.details["tnr"] - 1)
    assert 0.85 < est.value <= 1.0  # TV(N(0, I), N(4e₁, I)) = 2Φ(2) − 1 ≈ 0.954
    assert float(clf.outputs(real[200:]).mean()) > 0 > float(clf.outputs(fake[200:]).mean())


def test_fitted_classifier_obeys_the_critic_contract():
    x = digits()
    real = torch.nn.functional.interpolate(x[:64], size=32).expand(-1, 3, -1, -1)
    clf = ClassifierCritic(hidden=16).fit(real, degrade(real, "blur:2", seed=0), steps=20, batch_size=32)
    testing.check_critic(clf, max_examples=3)


# -- NIQE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [0.8, 2.0, 4.0])
def test_aggd_recovers_the_shape_of_generalised_gaussian_samples(shape):
    x = scipy.stats.gennorm.rvs(shape, scale=1.7, size=(1, 200_000), random_state=0)
    a, left, right = aggd(torch.from_numpy(x))
    assert float(a) == pytest.approx(shape, rel=0.05)
    assert float(left) == pytest.approx(1.7, rel=0.05) and float(right) == pytest.approx(1.7, rel=0.05)


def test_mscn_of_a_constant_image_is_zero():
    assert float(mscn(torch.full((1, 1, 20, 20), 128.0, dtype=torch.float64)).abs().max()) < 1e-9


@pytest.fixture(scope="module")
def niqe() -> NIQE:
    return NIQE()


def test_niqe_worsens_with_blur_and_noise(niqe):
    x = load_image("builtin:coffee", size=256)  # not in the pristine corpus
    clean = float(niqe.score(x))
    blurs = [float(niqe.score(degrade(x, f"blur:{s}", seed=0))) for s in (1, 2, 4)]
    noisy = [float(niqe.score(degrade(x, f"gaussian:{s}", seed=0))) for s in (0.05, 0.15)]
    assert clean < blurs[0] < blurs[1] < blurs[2]
    assert clean < noisy[0] < noisy[1]


def test_niqe_fitted_on_a_users_corpus_and_saved_in_its_state_dict(niqe, tmp_path):
    from safetensors.torch import load_file, save_file

    corpus = torch.cat([load_image(f"builtin:{n}", size=192) for n in ("camera", "rocket", "chelsea")])
    mine = NIQE(corpus=None).fit(corpus)
    save_file(mine.state_dict(), tmp_path / "niqe.safetensors")
    again = NIQE(corpus=None)
    again.load_state_dict(load_file(tmp_path / "niqe.safetensors"))
    x = load_image("builtin:astronaut", size=192)
    assert torch.equal(mine.score(x), again.score(x))
    assert not torch.equal(mine.score(x), niqe.score(x))


def test_niqe_refuses_what_it_cannot_score(niqe):
    with pytest.raises(rdpkit.InputError, match="no pristine model"):
        NIQE(corpus=None).score(torch.rand(1, 3, 96, 96))
    with pytest.raises(rdpkit.InputError, match="at least 96×96"):
        niqe.score(torch.rand(1, 3, 64, 64))
    with pytest.raises(rdpkit.InputError, match="gray .* or RGB"):
        niqe.score(torch.rand(1, 2, 96, 96))
    assert niqe.features(torch.rand(2, 3, 96, 96)).shape == (2, 36)


def test_registered_critics_are_the_promised_ones():
    reg = testing.fresh_registry()
    assert {"wgan-gp", "classifier", "niqe"} <= set(reg.names("critic"))
    assert isinstance(reg.create("critic", "wgan-gp"), WGANGPCritic)
    assert isinstance(reg.create("critic", "niqe", patch=32), NIQE)
    np.testing.assert_array_less(0, [len(reg.info("critic", n).summary) for n in ("wgan-gp", "classifier", "niqe")])


def test_niqe_s_default_pristine_model_never_sees_the_held_out_photographs():
    """They are what codecs are evaluated on (builtin:held-out): a model fitted on them would judge their decodings against
    themselves. The default corpus is the rest of scikit-image's natural photographs."""
    from rdpkit.critics.niqe import BUILTIN_CORPUS
    from rdpkit.data import HELD_OUT, PHOTOGRAPHS

    assert BUILTIN_CORPUS and set(BUILTIN_CORPUS).isdisjoint(HELD_OUT)
    assert set(BUILTIN_CORPUS) - {"camera"} <= set(PHOTOGRAPHS)
