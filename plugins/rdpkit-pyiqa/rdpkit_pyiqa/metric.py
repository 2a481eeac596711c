"""pyiqa metrics as rdpkit distortions (full-reference) and critics (no-reference).

The wrapper builds the metric with ``pyiqa.create_metric`` (so pyiqa's default options for
that metric apply) and calls its network directly: rdpkit has validated the input already,
and calling the network lets gradients follow the caller's grad mode instead of pyiqa's
``as_loss`` switch. pyiqa computes in float32; the result comes back in the input's dtype.
"""

from __future__ import annotations

import contextlib
import functools
import io
from typing import Any

import torch

import rdpkit
from rdpkit import InputError, PluginUnavailable
from rdpkit.weights import check_finite, tensors_only

from .catalog import Entry, entry
from .offline import no_downloads

# pip names of the optional modules some pyiqa metrics import while they are built.
_PIP_NAMES = {"pkg_resources": "'setuptools<81'", "icecream": "icecream", "transformers": "transformers"}


def _create(e: Entry, download: bool, options: dict[str, Any]) -> torch.nn.Module:
    """pyiqa's network for `e`, on the CPU, with no weights download unless `download`."""
    import pyiqa

    guard = contextlib.nullcontext() if download else no_downloads(e.name)
    try:
        # pyiqa prints progress chatter ("Loading pretrained model ...") on stdout.
        with guard, tensors_only(e.name), contextlib.redirect_stdout(io.StringIO()):
            model = pyiqa.create_metric(e.pyiqa_name, device="cpu", **options)
    except ModuleNotFoundError as exc:
        pip = _PIP_NAMES.get(exc.name or "", exc.name)
        raise PluginUnavailable(f"{e.name} needs the Python module {exc.name!r}, which is not installed; install it with pip install {pip}.") from None
    except TypeError as exc:
        if options:
            raise InputError(f"{e.name} rejected the options {sorted(options)} ({exc}); see pyiqa's documentation of {e.pyiqa_name!r} for the options it takes.") from None
        raise
    check_finite(e.name, model.net)
    return model.net


def _finite(grad: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


class _PyiqaModule:
    """What a pyiqa distortion and a pyiqa critic share: the network, the checks and the cast."""

    def __init__(self, e: Entry, net: torch.nn.Module) -> None:
        super().__init__()
        self.entry = e
        self.net = net.eval()
        self.min_size = e.min_size

    def _check_channels(self, x: torch.Tensor) -> None:
        if x.shape[1] not in self.entry.channels:
            need = "RGB images (3 channels)" if self.entry.channels == (3,) else "1 or 3 channels"
            fix = "repeat the gray channel with x.expand(-1, 3, -1, -1)" if x.shape[1] == 1 else "convert the images to RGB"
            raise InputError(f"{self.entry.name} takes {need}, got {x.shape[1]}; {fix}.")

    def _check_square(self, x: torch.Tensor) -> None:
        h, w = x.shape[-2:]
        if self.entry.square_only and h != w:
            raise InputError(f"{self.entry.name} takes square images only (pyiqa's {self.entry.pyiqa_name} gives wrong values on others), got {h}×{w}; crop them to {min(h, w)}×{min(h, w)}.")

    def _run(self, *images: torch.Tensor) -> torch.Tensor:
        """pyiqa's score per image, in float32, with gradients only where the metric has them."""
        grad = torch.is_grad_enabled() and self.entry.differentiable
        with torch.set_grad_enabled(grad):
            inputs = [t.float() for t in images]
            for t in inputs:
                if t.requires_grad:
                    # Where pyiqa's gradient is undefined (0/0 on flat images, e.g. FSIM's phase
                    # congruency) it arrives as NaN; take it as 0 so one flat patch cannot wipe an image.
                    t.register_hook(_finite)
            out = self.net(*inputs)
        if isinstance(out, tuple):
            out = out[0]
        if not bool(torch.isfinite(out).all()):
            size = "×".join(str(s) for s in images[0].shape[-2:])
            raise InputError(
                f"{self.entry.name} returned NaN or Inf for these {size} images, where pyiqa's formula is undefined "
                "(typically flat or very small images); use larger, textured images or another metric."
            )
        return out.reshape(images[0].shape[0])


class PyiqaDistortion(_PyiqaModule, rdpkit.Distortion):
    """A pyiqa full-reference metric turned into a distortion (see Entry.transform)."""

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        self._check_channels(x)
        self._check_square(x)
        t = self.entry.transform
        if t == "offset":
            # Two calls, not one on the concatenated pairs: on the CPU the doubled batch was
            # slower (vif 480 ms against 400 ms for 2 × 4×3×256², benchmarks/bench_pyiqa_overhead.py).
            score, same = self._run(x_hat, x), self._run(x, x)
            d = (score - same if self.entry.lower_better else same - score).clamp_min(0)
        elif t == "one-minus":
            d = (1 - self._run(x_hat, x)).clamp_min(0)
        else:
            d = self._run(x_hat, x)
        return d.to(x.dtype)


class PyiqaCritic(_PyiqaModule, rdpkit.Critic):
    """A pyiqa no-reference metric turned into a lower-is-better critic."""

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        self._check_channels(x)
        self._check_square(x)
        s = self._run(x)
        return (s if self.entry.transform == "identity" else -s).to(x.dtype)


def build(e: Entry, download: bool = False, **options: Any) -> PyiqaDistortion | PyiqaCritic:
    """Build pyiqa metric `e`; `options` go to pyiqa (e.g. ``test_y_channel=False``).

    Weights come from the torch hub and Hugging Face caches; when a file is missing, this
    raises rdpkit.WeightsUnavailable naming it, unless `download` lets pyiqa fetch it.
    """
    net = _create(e, download, options)
    return PyiqaDistortion(e, net) if e.mode == "FR" else PyiqaCritic(e, net)


class _Factories:
    """``factories.<pyiqa name>`` is the factory of that metric; the plugin's "module:attr" strings point here."""

    def __getattr__(self, pyiqa_name: str) -> Any:
        try:
            e = entry(pyiqa_name)
        except KeyError:
            raise AttributeError(pyiqa_name) from None
        return functools.partial(build, e)


factories = _Factories()
