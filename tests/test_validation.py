"""The shared input-validation layer: every bad input gets one sentence that names the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rdpkit
from rdpkit.validation import check_samples

X = torch.rand(2, 3, 16, 16)


@pytest.mark.parametrize(
    "x_hat, message",
    [
        (X.numpy(), "convert it explicitly with rdpkit.to_tensor"),
        (X[0], "add a batch dimension"),
        (X[0, 0], "reshape it to N×C×H×W"),
        ((X * 255).to(torch.uint8), "divide by 255"),
        (X.to(torch.int32), r"convert with x.float\(\)"),
        (X * 255, "divide by 255"),
        (X - 0.5, r"clamp it with x.clamp\(0, 1\)"),
        (torch.where(X > 0.5, torch.nan, X), "contains NaN"),
        (torch.where(X > 0.5, torch.inf, X), "contains Inf"),
        (X[:, :, :8], "same shape"),
        (X.double(), "convert both to one dtype"),
        (X.to("meta"), "move both to one device"),
        (torch.empty(0, 3, 16, 16), "is empty"),
    ],
)
def test_bad_images_get_one_sentence(x_hat, message):
    with pytest.raises(rdpkit.InputError, match=message) as info:
        rdpkit.distortion("mse")(X, x_hat)
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")


def test_too_small_for_ms_ssim():
    x = torch.rand(1, 3, 128, 128)
    with pytest.raises(rdpkit.InputError, match="needs at least 161×161"):
        rdpkit.distortion("ms-ssim")(x, x)


def test_slight_overshoot_from_float_arithmetic_is_accepted():
    x = torch.full((1, 1, 4, 4), 1 + 1e-7)
    assert float(rdpkit.distortion("mse")(x, x)) == 0


def test_samples_are_flattened_and_checked():
    assert check_samples(torch.rand(5, 3, 2, 2)).shape == (5, 12)
    assert check_samples(torch.rand(5)).shape == (5, 1)
    with pytest.raises(rdpkit.InputError, match="at least 2 samples"):
        check_samples(torch.rand(1, 3))
    with pytest.raises(rdpkit.InputError, match="NaN or Inf"):
        check_samples(torch.tensor([[0.0], [np.inf]]))
