"""What the divergence estimators share: option checks with one-sentence errors, and a rescaling
that keeps their arithmetic inside float64 whatever the samples' magnitude.

Options reach a constructor from Python, from the command line and from TOML, so each one is
checked for its type as well as its value: a TypeError from a comparison deep inside an
estimator is no message a user can act on.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputError


def number(name: str, value: Any, rule: str, ok: Callable[[float], bool] = lambda v: True) -> float:
    """`value` as a float when it is a finite real number (not a boolean) for which `ok` holds; else one sentence."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or not ok(float(value)):
        raise InputError(f"{name} must be {rule}, got {value!r}.")
    return float(value)


def integer(name: str, value: Any, rule: str, ok: Callable[[int], bool] = lambda v: True) -> int:
    """`value` as an int when it is an integer (not a boolean) for which `ok` holds; else one sentence."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not ok(int(value)):
        raise InputError(f"{name} must be {rule}, got {value!r}.")
    return int(value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, got {value!r}.")
    return value


def seed(name: str, value: Any) -> int:
    # torch.Generator.manual_seed refuses negative seeds and seeds of 2^64 and above.
    return integer(name, value, "an integer from 0 to 2^63 − 1", lambda v: 0 <= v < 2**63)


def power_of_two_scale(*sets: torch.Tensor) -> float:
    """The smallest power of two above the largest |x| in `sets` (1.0 when every value is 0).

    Dividing by a power of two is exact in binary floating point, and so is every sum,
    product, quotient and square root of the quotients: an estimator run on x / t returns,
    scaled back, bit for bit what it returns on x wherever x itself neither overflows nor
    underflows, and it keeps working where x would (squared distances of samples near 1e200
    overflow float64, of samples near 1e-200 underflow to 0).
    """
    largest = max(float(s.abs().max()) for s in sets)
    return math.ldexp(1.0, math.frexp(largest)[1]) if largest > 0 else 1.0


def standardise(p: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(p − c)/s and (q − c)/s in float64, and s: c is the pooled mean, s the root mean square of
    the pooled per-feature standard deviations (0 when every sample is one point, which is then
    left at 0 rather than divided by 0). Computed on the samples over a power of two, so that
    their variances do not overflow."""
    t = power_of_two_scale(p.double(), q.double())
    x, y = p.double() / t, q.double() / t
    pooled = torch.cat([x, y])
    centre, spread = pooled.mean(0), float(pooled.var(0, correction=0).mean().sqrt())
    unit = spread if spread > 0 else 1.0
    return (x - centre) / unit, (y - centre) / unit, spread * t
