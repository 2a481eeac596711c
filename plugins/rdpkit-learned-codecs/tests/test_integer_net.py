"""The integer hyper-synthesis: exact against an independent int64 reference, and close to the float network it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdpkit_learned_codecs.entropy import integer_net as I
from rdpkit_learned_codecs.networks.transforms import hyper_synthesis
from torch import nn

from rdpkit.errors import InputError


def _reference(layers: list[I.IntegerLayer], z: np.ndarray) -> np.ndarray:
    """The same network with numpy int64 and explicit windows: no float anywhere, no library convolution."""
    x = np.clip(z.astype(np.int64), -I.ACTIVATION_LIMIT, I.ACTIVATION_LIMIT)
    for layer in layers:
        w = layer.weight.numpy().astype(np.int64)
        b = layer.bias.numpy().astype(np.int64)
        if layer.upsample:
            n, c, h, wd = x.shape
            up = np.zeros((n, c, (h - 1) * (layer.upsample + 1) + 1, (wd - 1) * (layer.upsample + 1) + 1), np.int64)
            up[:, :, :: layer.upsample + 1, :: layer.upsample + 1] = x
            x = up
        left, right, top, bottom = layer.pads
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        k, s = w.shape[-1], layer.stride
        oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        acc = np.zeros((x.shape[0], w.shape[0], oh, ow), np.int64)
        for i in range(k):
            for j in range(k):
                window = x[:, :, i : i + s * oh : s, j : j + s * ow : s]
                acc += np.einsum("oc,nchw->nohw", w[:, :, i, j], window)
        acc += b[None, :, None, None]
        if layer.shift > 0:
            out = (acc + (1 << (layer.shift - 1))) >> layer.shift  # floor division: rounds half up
        else:
            out = acc << -layer.shift
        out = np.clip(out, -I.ACTIVATION_LIMIT, I.ACTIVATION_LIMIT)
        if layer.activation == "relu":
            out = np.maximum(out, 0)
        elif layer.activation == "leaky":
            out = np.where(out < 0, (out * I.LEAKY_NUMERATOR) >> I.LEAKY_SHIFT, out)
        x = out
    return x


@pytest.mark.parametrize("mean", [False, True])
def test_integer_network_equals_int64_reference_exactly(mean):
    torch.manual_seed(0)
    net = hyper_synthesis(8, 12, mean)
    layers = I.convert(net)
    z = torch.randint(-40, 41, (2, 8, 3, 4))
    out = I.run(layers, z)
    assert out.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), _reference(layers, z.numpy()))


@pytest.mark.parametrize("mean", [False, True])
def test_integer_network_tracks_the_float_network(mean):
    # Rounding to 2**-12 at each of 3 layers, weights to 2**-16: errors of a few 2**-12 units.
    torch.manual_seed(1)
    net = hyper_synthesis(8, 12, mean).double()
    z = torch.randint(-6, 7, (1, 8, 4, 4))
    out = I.run(I.convert(net), z).double() * 2.0**-I.FRACTION_BITS
    with torch.no_grad():
        ref = net(z.double())
    assert float((out - ref).abs().max()) < 2e-3


def test_outputs_do_not_depend_on_the_batch_or_the_float_dtype_of_the_weights():
    torch.manual_seed(2)
    net = hyper_synthesis(8, 12, False)
    z = torch.randint(-20, 21, (3, 8, 5, 2))
    a = I.run(I.convert(net), z)
    b = torch.cat([I.run(I.convert(net.double()), z[i : i + 1]) for i in range(3)])
    assert torch.equal(a, b)


def test_float_evaluation_is_not_exact_but_the_integer_one_is():
    """Why the integer network: the float network's scales differ bitwise between float32 and float64."""
    torch.manual_seed(3)
    net = hyper_synthesis(16, 24, False)
    z = torch.randint(-20, 21, (1, 16, 8, 8))
    with torch.no_grad():
        f32, f64 = net(z.float()), net.double()(z.double())
    assert not torch.equal(f32.double(), f64)
    assert torch.equal(I.run(I.convert(net.float()), z), I.run(I.convert(net.double()), z))


def test_weights_too_large_for_exact_integers_are_refused():
    net = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1))
    with torch.no_grad():
        net[0].weight.fill_(2.0**40)
    with pytest.raises(InputError, match="too large"):
        I.convert(net)
