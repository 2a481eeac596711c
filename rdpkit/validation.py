"""One input-validation layer, shared by every metric, critic and codec.

Images are float tensors N×C×H×W with values in [0, 1]. Anything else is refused with one
sentence that names the problem and the fix; conversion from numpy/PIL is explicit
(`rdpkit.to_tensor`), never guessed.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import reprlib
import types
import typing
from typing import Any

import torch

from .errors import InputError

# Values produced by float arithmetic may overshoot [0, 1] by a rounding error.
RANGE_SLACK = 1e-6
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _describe(obj: Any) -> str:
    shape = getattr(obj, "shape", None)
    return f"{type(obj).__module__}.{type(obj).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _check_structure(x: Any, name: str, min_size: int) -> None:
    """Type, shape and dtype: what can be checked without reading the values."""
    if not isinstance(x, torch.Tensor):
        hint = (
            "convert it explicitly with rdpkit.to_tensor(...), which reads H×W×C arrays and PIL images"
            if type(x).__module__.split(".")[0] in ("numpy", "PIL")
            else "pass a torch.Tensor of shape N×C×H×W"
        )
        raise InputError(f"{name} must be a torch.Tensor of shape N×C×H×W, got {_describe(x)}; {hint}.")
    if x.ndim != 4:
        fix = "add a batch dimension with x.unsqueeze(0)" if x.ndim == 3 else "reshape it to N×C×H×W"
        raise InputError(f"{name} must have 4 dimensions N×C×H×W, got shape {tuple(x.shape)}; {fix}.")
    if x.dtype not in FLOAT_DTYPES:
        fix = "divide by 255 and convert with x.float() / 255" if x.dtype == torch.uint8 else "convert with x.float()"
        raise InputError(f"{name} must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}; {fix}.")
    if x.numel() == 0:
        raise InputError(f"{name} is empty (shape {tuple(x.shape)}); pass at least one image with at least one pixel.")
    if min_size and min(x.shape[-2:]) < min_size:
        raise InputError(
            f"{name} is {x.shape[-2]}×{x.shape[-1]} pixels but this metric needs at least "
            f"{min_size}×{min_size}; resize or crop to a larger size."
        )


def _check_values(x: torch.Tensor, name: str) -> None:
    # One pass over the data: NaN propagates through aminmax, ±Inf lands outside the range.
    lo, hi = torch.aminmax(x.detach())
    lo, hi = float(lo), float(hi)
    if not (lo >= -RANGE_SLACK and hi <= 1 + RANGE_SLACK):
        if not bool(torch.isfinite(x).all()):
            bad = "NaN" if bool(torch.isnan(x).any()) else "Inf"
            raise InputError(f"{name} contains {bad} values; find where they come from, or replace them with torch.nan_to_num.")
        fix = "divide by 255" if 1.5 < hi <= 255 else "rescale it, or clamp it with x.clamp(0, 1)"
        raise InputError(f"{name} has values in [{lo:.4g}, {hi:.4g}] but images must lie in [0, 1]; {fix}.")


def check_images(x: Any, name: str = "x", *, min_size: int = 0) -> torch.Tensor:
    """Return `x` unchanged if it is a valid image batch, else raise InputError."""
    _check_structure(x, name, min_size)
    _check_values(x, name)
    return x


def check_pair(x: Any, x_hat: Any, *, min_size: int = 0, names: tuple[str, str] = ("x", "x_hat")) -> None:
    """Validate a reference batch and a distorted batch that must match each other."""
    _check_structure(x, names[0], min_size)
    _check_structure(x_hat, names[1], min_size)
    if x.shape != x_hat.shape:
        raise InputError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}; "
            "resize one to match the other."
        )
    if x.device != x_hat.device:
        raise InputError(
            f"{names[0]} is on {x.device} but {names[1]} is on {x_hat.device}; move both to one device with .to(device)."
        )
    if x.dtype != x_hat.dtype:
        raise InputError(
            f"{names[0]} is {x.dtype} but {names[1]} is {x_hat.dtype}; convert both to one dtype with .to(dtype)."
        )
    _check_values(x, names[0])
    _check_values(x_hat, names[1])


def check_samples(s: Any, name: str = "samples") -> torch.Tensor:
    """A sample set for a divergence: N×D, or an image batch (flattened to N×D). Returns N×D."""
    if not isinstance(s, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape N×D or N×C×H×W, got {_describe(s)}; convert it with torch.as_tensor(...).")
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim < 2:
        raise InputError(f"{name} must have shape N×D or N×C×H×W, got a scalar; pass one sample per row.")
    if s.shape[0] < 2:
        raise InputError(f"{name} has {s.shape[0]} sample(s); a divergence needs at least 2 samples per set.")
    if s.is_floating_point() and not bool(torch.isfinite(s).all()):
        raise InputError(f"{name} contains NaN or Inf values; remove or replace them before estimating a divergence.")
    return s.reshape(s.shape[0], -1)


def check_device(device: str | None) -> str:
    """A device name that will work here: ``auto`` (a GPU when there is one), ``cpu``, ``cuda[:N]`` or ``mps``.

    Checked before any work starts, so a missing GPU is one sentence rather than an error from
    inside torch half-way through a run.
    """
    if device is None or device == "auto":
        return "auto"
    if not isinstance(device, str):
        raise InputError(f"device must be a name such as 'cpu' or 'cuda', got {device!r}.")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"{device!r} is not a torch device; use auto, cpu, cuda, cuda:N or mps.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} asks for a GPU, but torch sees none on this machine; use cpu (or auto, which picks a GPU when there is one).")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}.")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError(f"device {device!r} needs Apple's Metal backend, which this machine lacks; use cpu.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"device {device!r} is not supported; use auto, cpu, cuda, cuda:N or mps.")
    return device


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; other names unchanged."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def usable_device(device: str | torch.device | None) -> str:
    """The device to run on, checked before any work (`check_device`) and resolved: "auto" and None give a GPU when there is one, else the CPU."""
    return resolve_device(check_device(str(device) if isinstance(device, torch.device) else device))


def check_seed(seed: Any) -> int | None:
    """`seed` if torch's generators take it (an integer from −2**63 to 2**64 − 1) or None (fresh noise), else InputError."""
    if seed is None:
        return None
    try:
        value = operator.index(seed)  # ints, numpy integers, integer tensors of one element; not floats or strings
    except TypeError:
        value = None
    if isinstance(seed, bool) or value is None or not -(2**63) <= value < 2**64:
        raise InputError(f"seed must be an integer from -2**63 to 2**64 - 1, or None for fresh noise, got {reprlib.repr(seed)}.")
    return value


Checker = typing.Callable[[Any, str], "str | None"]


@functools.cache
def _field_checkers(cls: type) -> tuple[tuple[str, Checker], ...]:
    """A dataclass's fields with a checker of each one's resolved annotation; an annotation that does not resolve is not checked."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation names a type imported only for type checkers
        hints = {}
    return tuple((f.name, _checker(hints.get(f.name, Any))) for f in dataclasses.fields(cls) if f.init)


def _unchecked(value: Any, where: str) -> None:
    return None


def _number(value: Any, where: str) -> str | None:  # JSON writes 1.0 as 1; a flag is no number
    return None if type(value) in (float, int) or (isinstance(value, (int, float)) and not isinstance(value, bool)) else f"{where} is {reprlib.repr(value)}, not a number"


def _integer(value: Any, where: str) -> str | None:
    return None if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)) else f"{where} is {reprlib.repr(value)}, not an integer"


@functools.cache
def _checker(hint: Any) -> Checker:
    """A function (value, where) → why `value` is not of type `hint` (naming `where`), or None when it is; built once per type."""
    if hint is Any or hint is object or isinstance(hint, (str, typing.TypeVar)):
        return _unchecked
    if hint is float:
        return _number
    if hint is int:
        return _integer
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [_checker(a) for a in args]

        def union(value: Any, where: str) -> str | None:
            reasons = [check(value, where) for check in options]
            return None if None in reasons else reasons[0]
        return union
    if dataclasses.is_dataclass(hint):
        def nested(value: Any, where: str) -> str | None:
            return _dataclass_error(value, where) if isinstance(value, hint) else f"{where} is a {type(value).__name__}, not a {hint.__name__}"
        return nested
    if origin is None:
        if hint is type(None):
            return lambda value, where: None if value is None else f"{where} is {reprlib.repr(value)}, not None"
        if not isinstance(hint, type):  # a Literal, a NewType, ...: not checked
            return _unchecked
        return lambda value, where: None if isinstance(value, hint) else f"{where} is a {type(value).__name__}, not a {hint.__name__}"
    container = origin if isinstance(origin, type) else object
    name = getattr(origin, "__name__", str(origin))
    if issubclass(container, typing.Mapping) and len(args) == 2:
        key, item = _checker(args[0]), _checker(args[1])

        def mapping(value: Any, where: str) -> str | None:
            if not isinstance(value, container):
                return f"{where} is a {type(value).__name__}, not a {name}"
            return next((e for k, v in value.items() if (e := key(k, f"a key of {where}") or item(v, f"{where}[{reprlib.repr(k)}]"))), None)
        return mapping
    if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        items = [_checker(a) for a in args]

        def fixed(value: Any, where: str) -> str | None:
            if not isinstance(value, tuple):
                return f"{where} is a {type(value).__name__}, not a tuple"
            if len(value) != len(items):
                return f"{where} has {len(value)} entries, not {len(items)}"
            return next((e for i, (v, check) in enumerate(zip(value, items)) if (e := check(v, f"{where}[{i}]"))), None)
        return fixed
    if args:
        item = _checker(args[0])

        def sequence(value: Any, where: str) -> str | None:
            if not isinstance(value, container):
                return f"{where} is a {type(value).__name__}, not a {name}"
            return next((e for i, v in enumerate(value) if (e := item(v, f"{where}[{i}]"))), None)
        return sequence
    return lambda value, where: None if isinstance(value, container) else f"{where} is a {type(value).__name__}, not a {name}"


def _dataclass_error(obj: Any, where: str) -> str | None:
    for name, check in _field_checkers(type(obj)):
        if (error := check(getattr(obj, name), f"{where}.{name}")):
            return error
    return None


def check_fields(obj: Any, name: str | None = None) -> None:
    """Raise TypeError naming the first field of the dataclass `obj` (nested dataclasses, lists, dicts and tuples included)
    whose value is not of its annotated type: records read back from JSON are checked before anything computes with them."""
    if (error := _dataclass_error(obj, name or type(obj).__name__)):
        raise TypeError(error)
