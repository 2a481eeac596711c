"""SSIM and MS-SSIM against scikit-image and pytorch_msssim, on real images, with gradients."""

from __future__ import annotations

import pytest
import pytorch_msssim
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

import rdpkit
from rdpkit.data import load_image
from rdpkit.degrade import degrade
from rdpkit.ssim import (
    _components_torch,
    _window,
    ms_ssim,
    ms_ssim_min_size,
    ssim,
    ssim_components,
)
from rdpkit.testing import devices

VALUE_TOL = 1e-4  # the agreement bound with scikit-image and pytorch_msssim
DAMAGES = ("gaussian:0.1", "blur:2", "jpeg:10")
DTYPES = (torch.float32, torch.float64)


def damaged_batch(name: str, size: int | tuple[int, int], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference repeated once per damage, and the damaged copies: a batch of len(DAMAGES).

    camera is loaded as one gray channel, the other images as RGB.
    """
    x = load_image(f"builtin:{name}", size=size, gray=name == "camera")
    y = torch.cat([degrade(x, d, seed=i) for i, d in enumerate(DAMAGES)])
    return x.expand_as(y).to(dtype), y.to(dtype)


def skimage_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.tensor([
        structural_similarity(
            a.permute(1, 2, 0).double().numpy(), b.permute(1, 2, 0).double().numpy(),
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2,
        )
        for a, b in zip(x, y)
    ], dtype=torch.float64)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, size", [("astronaut", 128), ("camera", 96), ("coffee", (90, 133))])
def test_ssim_matches_scikit_image(name, size, dtype):
    x, y = damaged_batch(name, size, dtype)
    ours = ssim(x, y)
    assert ours.dtype == dtype and ours.shape == (len(DAMAGES),)
    torch.testing.assert_close(ours.double(), skimage_ssim(x, y), atol=VALUE_TOL, rtol=0)


@pytest.mark.parametrize("device", devices())
def test_device_agnostic_path_matches_scikit_image(device):
    # The torch path is what CUDA and half precision use; it is checked on every device here.
    x, y = damaged_batch("chelsea", 80, torch.float64)
    win = _window(11, 1.5, torch.device(device), torch.float64)
    s, _ = _components_torch(x.to(device), y.to(device), win, 0.01**2, 0.03**2)
    torch.testing.assert_close(s.mean(1).cpu(), skimage_ssim(x, y), atol=VALUE_TOL, rtol=0)
    torch.testing.assert_close(ssim(x.to(device), y.to(device)).cpu(), skimage_ssim(x, y), atol=VALUE_TOL, rtol=0)


@pytest.mark.parametrize("name, size, dtype", [
    ("astronaut", 161, torch.float32), ("camera", (171, 203), torch.float64), ("coffee", (200, 177), torch.float32),
])
def test_ms_ssim_matches_pytorch_msssim(name, size, dtype):
    # Odd sides at several scales exercise the padded pooling that pytorch_msssim uses.
    x, y = damaged_batch(name, size, dtype)
    ours = ms_ssim(x, y)
    assert ours.dtype == dtype
    ref = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    torch.testing.assert_close(ours, ref, atol=VALUE_TOL, rtol=0)


def gradients(metric, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    # Unequal weights per image check that each image's gradient is scaled by its own weight.
    (metric(x, y) * torch.arange(1, len(x) + 1, dtype=x.dtype)).sum().backward()
    return x.grad, y.grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, peer", [
    (ssim, lambda a, b: pytorch_msssim.ssim(a, b, data_range=1.0, size_average=False)),
    (ms_ssim, lambda a, b: pytorch_msssim.ms_ssim(a, b, data_range=1.0, size_average=False)),
], ids=["ssim", "ms-ssim"])
def test_gradients_match_pytorch_msssim_autograd(ours, peer, dtype):
    # Relative to the largest gradient entry. pytorch_msssim builds its window in float32 even
    # for float64 images, which limits the agreement to about 4e-5 in either precision;
    # exactness of the closed form is checked against finite differences below.
    x, y = damaged_batch("astronaut", (165, 170), dtype)
    for g, ref in zip(gradients(ours, x, y), gradients(peer, x, y)):
        assert g.dtype == dtype
        assert relative_error(g, ref) < 1e-4


def test_closed_form_backward_equals_finite_differences():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 2, 15, 14, dtype=torch.float64, generator=g)
    y = (x + 0.2 * torch.rand(x.shape, dtype=torch.float64, generator=g)).clamp(0, 1)
    x.requires_grad_(True)
    y.requires_grad_(True)
    # Both outputs (mean SSIM and mean contrast-structure) carry gradient, as in MS-SSIM.
    assert torch.autograd.gradcheck(lambda a, b: ssim_components(a, b), (x, y))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    x, y = damaged_batch("coffee", 64, dtype)
    s = ssim(x, y)
    assert s.dtype == dtype
    # The only error left is the final rounding to 16 bits (at most 2⁻⁹ relative for bfloat16).
    torch.testing.assert_close(s.float(), ssim(x.float(), y.float()), atol=2e-3, rtol=0)


def test_gradient_flows_to_the_distorted_image_only_when_asked():
    x, y = damaged_batch("camera", 64, torch.float32)
    y = y.clone().requires_grad_(True)
    ssim(x, y).sum().backward()
    assert y.grad is not None and x.grad is None and torch.isfinite(y.grad).all()


def test_result_does_not_depend_on_the_thread_count():
    x, y = damaged_batch("astronaut", 150, torch.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ssim(x, y)
        torch.set_num_threads(max(2, threads))
        many = ssim(x, y)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)


def test_too_small_for_ms_ssim_is_one_clear_error():
    d = rdpkit.distortion("ms-ssim")
    side = ms_ssim_min_size()
    assert side == 161  # the 11-pixel window must fit after four halvings, as in pytorch_msssim
    x = load_image("builtin:astronaut", size=side - 1)
    with pytest.raises(rdpkit.InputError, match=r"160×160 pixels but this metric needs at least 161×161"):
        d(x, x)
    x = load_image("builtin:astronaut", size=side)
    assert float(d(x, degrade(x, "blur:1"))) > 0


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(11, 90), w=st.integers(11, 40), c=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16), dtype=st.sampled_from(DTYPES),
)
def test_ssim_axioms(h, w, c, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, c, h, w, generator=g, dtype=dtype)
    y = torch.rand(2, c, h, w, generator=g, dtype=dtype)
    s = ssim(x, y)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(s, ssim(y, x), atol=tol, rtol=0)  # symmetric
    assert bool((s <= 1 + tol).all()) and bool((s >= -1 - tol).all())
    torch.testing.assert_close(ssim(x, x), torch.ones(2, dtype=dtype), atol=tol, rtol=0)
    # The fused CPU kernels and the device-agnostic torch path are the same function.
    win = _window(11, 1.5, x.device, dtype)
    torch.testing.assert_close(ssim_components(x, y), _components_torch(x, y, win, 1e-4, 9e-4), atol=tol, rtol=0)
