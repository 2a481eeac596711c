"""The hyper-synthesis evaluated in integer arithmetic, so that every machine picks the same tables.

The decoder chooses each latent's probability table from the hyper-synthesis h_s(ẑ). Computed
in floating point, the chosen scale can differ between machines, devices and precisions when
it lies near a boundary of the scale table, and a single differing choice garbles the rest of
the stream (CompressAI's issues 279, 309, 340). Here the trained float h_s is converted once
into an integer network (Ballé, Johnston & Minnen, "Integer Networks for Data Compression
with Latent-Variable Models", ICLR 2019, post-training):

- weights become integers W·2**b (b chosen per layer, at most 16), biases integers in the
  accumulator's units, activations integers in units of 2**−FRACTION_BITS, clamped to
  ±ACTIVATION_LIMIT;
- a layer is an integer convolution, then a rounding shift back to activation units, then
  ReLU (or LeakyReLU with slope 655/2**16);
- the convolutions run in float64 on the CPU (products and sums of these integers). Every product and
  partial sum is an integer below 2**52 (checked per layer at conversion from the weights'
  absolute row sums), and float64 holds every such integer exactly, so the result does not
  depend on summation order, BLAS, vector width or device: it is the integer result.

The output is σ (and μ) in fixed point: table indices follow from integer comparisons
(gaussian.scale_indices), and μ = M·2**−12 is exact in float32 and float64 alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rdpkit.errors import InputError

#: Fractional bits of activations and outputs.
FRACTION_BITS = 12
#: Activations (and the input ẑ) are clamped to ± this many units (±4096).
ACTIVATION_LIMIT = 1 << 24
#: Every accumulator stays at or below this, so float64 arithmetic on it is exact.
EXACT_BOUND = 1 << 52
MAX_WEIGHT_BITS = 16
LEAKY_NUMERATOR, LEAKY_SHIFT = 655, 16


@dataclass(frozen=True)
class IntegerLayer:
    weight: torch.Tensor  # float64 holding integers, as an ordinary (not transposed) convolution: out×in×k×k
    bias: torch.Tensor  # float64 integers, in units of 2**−(in_bits + weight_bits)
    stride: int  # of the input (a transposed convolution's zero insertion is done before)
    upsample: int  # transposed convolution: zeros inserted between input pixels (stride − 1)
    pads: tuple[int, int, int, int]  # left, right, top, bottom
    shift: int  # accumulator → activation units: divide by 2**shift (negative: multiply)
    activation: str | None  # "relu", "leaky" or None


def _equivalent_conv(layer: nn.Module) -> tuple[torch.Tensor, int, int, tuple[int, int, int, int]]:
    """(weight, stride, upsample, pads) of an ordinary convolution that computes `layer`."""
    w = layer.weight.detach().double().cpu()
    k = w.shape[-1]
    if isinstance(layer, nn.ConvTranspose2d):
        s, p, op = layer.stride[0], layer.padding[0], layer.output_padding[0]
        return w.transpose(0, 1).flip(-1, -2).contiguous(), 1, s - 1, (k - 1 - p, k - 1 - p + op, k - 1 - p, k - 1 - p + op)
    p = layer.padding[0]
    return w, layer.stride[0], 0, (p, p, p, p)


def convert(h_s: nn.Sequential) -> list[IntegerLayer]:
    """The integer network for a trained hyper-synthesis (convolutions, each optionally followed by ReLU or LeakyReLU)."""
    modules = list(h_s)
    layers, in_bits = [], 0
    for i, m in enumerate(modules):
        if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        activation = "relu" if isinstance(nxt, nn.ReLU) else "leaky" if isinstance(nxt, nn.LeakyReLU) else None
        w, stride, upsample, pads = _equivalent_conv(m)
        b = m.bias.detach().double().cpu() if m.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
        for bits in range(MAX_WEIGHT_BITS, -1, -1):
            wi = torch.round(w * 2.0**bits)
            bi = torch.round(b * 2.0 ** (in_bits + bits))
            bound = wi.abs().flatten(1).sum(1).max() * ACTIVATION_LIMIT + bi.abs().max()
            if bound <= EXACT_BOUND:
                break
        else:
            raise InputError(f"the hyper-synthesis layer {i} has weights too large (absolute row sum {float(w.abs().flatten(1).sum(1).max()):.3g}) to be evaluated exactly in integers; this model cannot code bit-exactly.")
        layers.append(IntegerLayer(wi, bi, stride, upsample, pads, in_bits + bits - FRACTION_BITS, activation))
        in_bits = FRACTION_BITS
    return layers


def _conv(x: torch.Tensor, layer: IntegerLayer) -> torch.Tensor:
    # float64 convolutions on the CPU are products and sums of these integers (unfold and a matrix product; a transposed
    # one scatters and adds): exact whatever the order or the BLAS (see the module docstring). The transposed convolution
    # runs as one, not as the equivalent convolution over zero-inserted inputs, which would multiply the zeros too.
    if layer.upsample:
        k = layer.weight.shape[-1]
        return F.conv_transpose2d(x, layer.weight.flip(-1, -2).transpose(0, 1), layer.bias, stride=layer.upsample + 1,
                                  padding=k - 1 - layer.pads[0], output_padding=layer.pads[1] - layer.pads[0])
    return F.conv2d(F.pad(x, layer.pads), layer.weight, layer.bias, stride=layer.stride)


def _rescale(acc: torch.Tensor, shift: int) -> torch.Tensor:
    """acc / 2**shift rounded half up (exact: a power-of-two division and a floor)."""
    if shift <= 0:
        return acc * 2.0**-shift
    return torch.floor((acc + 2.0 ** (shift - 1)) * 2.0**-shift)


def run(layers: list[IntegerLayer], z_hat: torch.Tensor) -> torch.Tensor:
    """The integer network on integer hyper-latents ẑ (any device; computed on the CPU): int64 outputs in units of 2**−FRACTION_BITS."""
    x = z_hat.detach().to("cpu", torch.float64).clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
    for layer in layers:
        x = _rescale(_conv(x, layer), layer.shift).clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
        if layer.activation == "relu":
            x = x.clamp_min(0)
        elif layer.activation == "leaky":
            x = torch.where(x < 0, torch.floor(x * LEAKY_NUMERATOR * 2.0**-LEAKY_SHIFT), x)
    return x.long()
