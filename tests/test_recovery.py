"""The recovery test's engine: profiles, the optimisation loop, the verdict, and the acceptance cases of issue 3."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import rdpkit
from rdpkit.data import load_image
from rdpkit.degrade import degrade
from rdpkit.errors import InputError
from rdpkit.interfaces import Distortion
from rdpkit.recovery.optimise import batch_independent, optimise
from rdpkit.recovery.profiles import PROFILES, Profile, get_profile
from rdpkit.recovery.run import recover, recover_many
from rdpkit.recovery.verdict import (
    BLIND_SPOT,
    NOT_CONVERGED,
    RECOVERED,
    Thresholds,
    judge,
    near_identical_level,
)
from rdpkit.testing import fresh_registry


class PooledMSE(Distortion):
    """MSE between 4×-average-pooled images: a surjective map, blind to everything inside a 4×4 block."""

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (F.avg_pool2d(x, 4) - F.avg_pool2d(x_hat, 4)).pow(2).flatten(1).mean(1)


class Rounded(Distortion):
    """MSE of 8-bit-rounded images: gradients are zero almost everywhere, so it says it is not differentiable."""

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return ((x * 255).round() - (x_hat * 255).round()).pow(2).flatten(1).mean(1) / 255**2


class BatchCoupled(Distortion):
    """MSE divided by the batch's mean MSE: each value depends on the other images of the batch."""

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        e = (x - x_hat).pow(2).flatten(1).mean(1)
        return e / (e.mean().detach() + 1e-12)


class Plugin:
    @rdpkit.hookimpl
    def rdpkit_distortions(self) -> list[rdpkit.Spec]:
        return [
            rdpkit.Spec("pooled-mse", PooledMSE, summary="MSE of 4×4 block means", differentiable=True),
            rdpkit.Spec("rounded-mse", Rounded, summary="MSE of 8-bit images", differentiable=False),
            rdpkit.Spec("batch-coupled", BatchCoupled, summary="batch-relative MSE", differentiable=True),
        ]


@pytest.fixture(scope="module")
def registry() -> rdpkit.Registry:
    return fresh_registry(Plugin())


# -- profiles ------------------------------------------------------------------------------


def test_ding_profile_is_the_papers_schedule():
    ding = PROFILES["ding"]
    assert (ding.steps, ding.lr, ding.halve_every, ding.min_lr, ding.reset_moments) == (20_000, 0.005, 2_000, 1e-4, True)
    assert [ding.lr_at(s) for s in (0, 1_999, 2_000, 4_000)] == [0.005, 0.005, 0.0025, 0.00125]
    assert ding.lr_at(10_000) == pytest.approx(0.005 / 32) and ding.lr_at(12_000) == 1e-4 and ding.lr_at(19_999) == 1e-4


@settings(max_examples=50, deadline=None)
@given(lr=st.floats(1e-4, 1.0), every=st.integers(1, 500), floor=st.floats(1e-6, 1e-3), a=st.integers(0, 5000), b=st.integers(0, 5000))
def test_learning_rate_never_grows_and_never_falls_below_its_floor(lr, every, floor, a, b):
    p = Profile("p", 10, lr, every, floor)
    lo, hi = sorted((a, b))
    assert p.lr_at(hi) <= p.lr_at(lo) and p.lr_at(hi) >= floor


def test_unknown_profile_and_bad_steps_are_one_sentence():
    with pytest.raises(InputError, match="did you mean 'fast'"):
        get_profile("fats")
    with pytest.raises(InputError, match="steps must be at least 1"):
        PROFILES["fast"].with_steps(0)


# -- the loop ------------------------------------------------------------------------------


def reference_loop(d, x, y0, profile):
    """Ding et al.'s loop written out: a fresh Adam at each halving, y clamped after each step."""
    y = y0.clone().requires_grad_(True)
    lr = None
    for step in range(profile.steps):
        if profile.lr_at(step) != lr:
            lr = profile.lr_at(step)
            opt = torch.optim.Adam([y], lr=lr)
        opt.zero_grad()
        d(x, y).sum().backward()
        opt.step()
        with torch.no_grad():
            y.clamp_(0, 1)
    return y.detach()


def test_loop_matches_the_written_out_schedule_with_moment_resets():
    x = load_image("builtin:astronaut", size=24)
    y0 = degrade(x, "noise", seed=3)
    profile = Profile("tiny", steps=60, lr=0.05, halve_every=20, min_lr=0.01)
    d = rdpkit.distortion("ssim")
    out = optimise(d, x, y0, profile, stride=7, progress=False)
    assert torch.allclose(out.final, reference_loop(d, x, y0, profile), atol=1e-6)
    without_reset = Profile("tiny", steps=60, lr=0.05, halve_every=20, min_lr=0.01, reset_moments=False)
    assert not torch.allclose(optimise(d, x, y0, without_reset, stride=7, progress=False).final, out.final, atol=1e-4)
    t = out.trajectories[0]
    assert t.step == [0, 7, 14, 21, 28, 35, 42, 49, 56, 60]
    assert t.psnr[0] == pytest.approx(float(rdpkit.psnr(x, y0)), abs=1e-4)
    assert t.distortion[-1] == pytest.approx(float(d(x, out.final)), abs=1e-6)


def test_a_batch_gives_each_image_what_it_gets_alone(registry):
    x = torch.cat([load_image(f"builtin:{n}", size=32) for n in ("astronaut", "coffee", "camera")])
    y0 = degrade(x, "noise", seed=1)
    profile = Profile("tiny", steps=40, lr=0.02, halve_every=10, min_lr=1e-3)
    d = rdpkit.distortion("ssim")
    together = optimise(d, x, y0, profile, stride=10, progress=False)
    alone = [optimise(d, x[i : i + 1], y0[i : i + 1], profile, stride=10, progress=False).final for i in range(3)]
    assert torch.allclose(together.final, torch.cat(alone), atol=1e-5)
    assert together.batch == [3, 3, 3]
    chunked = optimise(d, x, y0, profile, stride=10, progress=False, max_pixels=2 * x[0].numel())
    assert chunked.batch == [2, 2, 1] and torch.allclose(chunked.final, together.final, atol=1e-5)


def test_a_batch_dependent_distortion_runs_one_image_at_a_time(registry):
    d = registry.create("distortion", "batch-coupled")
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    y0 = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    assert not batch_independent(d, x, y0) and batch_independent(rdpkit.distortion("mse"), x, y0)
    assert optimise(d, x, y0, Profile("t", 5, 0.01, 5, 1e-3), stride=5, progress=False).batch == [1, 1, 1]


def test_optimise_restores_the_distortions_mode_and_flags(registry):
    d = rdpkit.distortion("mse")
    d.register_parameter("scale", torch.nn.Parameter(torch.ones(())))
    d.train()
    x = torch.rand(1, 1, 12, 12)
    optimise(d, x, x.flip(-1), Profile("t", 3, 0.01, 3, 1e-3), stride=1, progress=False)
    assert d.training and d.scale.requires_grad


# -- the verdict ---------------------------------------------------------------------------


def test_near_identical_level_of_mse_is_the_noise_variance():
    x = torch.full((1, 3, 64, 64), 0.5)
    level = near_identical_level(rdpkit.distortion("mse"), x, ("gaussian:0.01",))
    assert float(level) == pytest.approx(1e-4, rel=0.05)  # E[(σZ)²] = σ², no clipping at 0.5 ± 5σ
    both = near_identical_level(rdpkit.distortion("mse"), x, ("gaussian:0.01", "shift:1"))
    assert float(both) == 0.0  # a constant image shifted is itself: the smaller level wins


@settings(max_examples=100, deadline=None)
@given(psnr=st.floats(0, 80), ssim=st.floats(-1, 1), value=st.floats(0, 1), level=st.floats(0, 1))
def test_verdict_follows_its_definition(psnr, ssim, value, level):
    t = Thresholds()
    v = judge(psnr, ssim, value, level, t)
    expected = RECOVERED if psnr >= t.psnr_db and ssim >= t.ssim else BLIND_SPOT if value <= level else NOT_CONVERGED
    assert v.label == expected and f"{psnr:.2f} dB" in v.reason


def test_nan_distortion_is_never_a_blind_spot():
    assert judge(10.0, 0.2, math.nan, 1.0, Thresholds()).label == NOT_CONVERGED


def test_bad_thresholds_are_one_sentence():
    with pytest.raises(InputError, match="unknown degradation"):
        Thresholds(near_identical=("wobble:1",)).check()
    with pytest.raises(InputError, match="at least one perturbation"):
        Thresholds(near_identical=()).check()


# -- acceptance (issue 3) --------------------------------------------------------------------


@pytest.mark.parametrize("init", ["noise", "jpeg:10"])
def test_mse_recovers_the_reference_at_128(init):
    r = recover("mse", "builtin:astronaut", init, size=128, device="cpu")
    assert r.verdict.label == RECOVERED and r.psnr >= 35, r.verdict.reason


def test_ms_ssim_recovers_the_reference_at_192():
    # MS-SSIM's five scales need at least 161×161 pixels, so it is tested at 192×192, not 128×128.
    # The noise case is coffee's: astronaut's seed-0 noise is a dead start (next test).
    results = recover_many("ms-ssim", [("builtin:coffee", "noise"), ("builtin:astronaut", "jpeg:10")], size=192, device="cpu")
    for r in results:
        assert r.trajectory.dead_channels[0] == 0
        assert r.verdict.label == RECOVERED and r.psnr >= 35, (r.init, r.verdict.reason)


def test_ms_ssim_dead_start_is_explained():
    # rdpkit's MS-SSIM clips each scale's *mean* contrast-structure term at 0 (pytorch_msssim's
    # convention). From this white noise one channel's coarsest term is negative: that channel's
    # MS-SSIM is 0 with an exactly zero gradient, whatever the optimiser does.
    r = recover("ms-ssim", "builtin:astronaut", "noise", size=192, steps=3, device="cpu")
    assert r.trajectory.dead_channels == [1, 1, 1, 1]
    assert r.verdict.label == NOT_CONVERGED and "gradient is exactly zero on 1 channel(s)" in r.verdict.reason


def test_pooled_mse_is_judged_a_blind_spot(registry):
    r = recover("pooled-mse", "builtin:astronaut", "noise", size=64, registry=registry, device="cpu")
    assert r.verdict.label == BLIND_SPOT, r.verdict.reason
    assert r.distortion_value <= r.near_identical_level and r.psnr < 25
    # The picture shows it: the 4×4 block means are right, the detail inside each block is still noise.
    assert torch.allclose(F.avg_pool2d(r.final, 4), F.avg_pool2d(r.reference, 4), atol=2e-3)
    detail = r.final - F.interpolate(F.avg_pool2d(r.final, 4), scale_factor=4)
    assert float(detail.std()) > 0.1


def test_non_differentiable_distortion_is_refused_in_one_sentence(registry):
    with pytest.raises(InputError, match=r"'rounded-mse' is not differentiable.*needs one of: .*pooled-mse"):
        recover("rounded-mse", registry=registry)


def test_bad_initialisation_and_size_are_one_sentence(registry):
    with pytest.raises(InputError, match="neither an existing image file nor a degradation"):
        recover("mse", init="static", size=16)
    with pytest.raises(InputError, match="needs images of at least 161×161.*--size 161"):
        recover("ms-ssim", size=128)
    # refused before any image is scaled up: 100,000² RGB would need 120 GB for the image alone
    with pytest.raises(InputError, match=r"size must be at most 4096 pixels \(a 100000×100000 image and its optimiser state alone need 558.8 GB"):
        recover("mse", size=100_000)


def test_an_image_file_can_be_the_initialisation(tmp_path):
    from rdpkit.data import save_png

    path = save_png(load_image("builtin:camera", size=40), tmp_path / "start.png")
    r = recover("mse", "builtin:astronaut", str(path), size=32, steps=5, device="cpu")
    assert torch.allclose(r.initial, load_image(path, size=32), atol=1 / 255)


def test_both_spellings_of_an_initialisation_are_one_trial(registry, tmp_path):
    """``jpeg,quality=10`` and the short ``jpeg:10`` (all that earlier stores hold) key one trial: the second spelling runs nothing."""
    from rdpkit.recovery.audit import audit

    kw = {"images": ["builtin:astronaut"], "store": tmp_path / "s.sqlite", "registry": registry, "size": 32, "steps": 5, "device": "cpu", "progress": False}
    first = audit(["mse"], inits=["jpeg:10", "blur,sigma=2"], **kw)
    again = audit(["mse"], inits=["jpeg,quality=10", "blur:2"], **kw)
    assert (first.ran, again.ran, again.reused) == (2, 0, 2)
    assert [r.psnr for r in again.results] == [r.psnr for r in first.results]
    with pytest.raises(InputError, match="initialisation 'jpg,quality=10' is neither"):
        audit(inits=["jpg,quality=10"], **kw)  # checked before any work, not taken for a problem of every distortion
