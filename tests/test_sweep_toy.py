"""A toy plugin the sweep tests run trials of, and the contract tests it must pass first.

`toy-quant` is a learnable uniform quantiser: fit() learns the intensity range of the
training images (and can be slowed down to make a sweep killable mid-run); every call of
fit() appends a line to a per-trial marker file, so tests can count how often each trial
ran; `crash=True` kills the process in fit(). `toy-mean-gap` is a divergence: the gap between the mean intensities of two sample
sets, with its standard error. Sweep tests install this module as a plugin through a
throw-away dist-info folder (`installed.install_plugin`), exactly as pip would.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from installed import install_plugin

import rdpkit
import rdpkit.testing as rt
from rdpkit.bitstream import Bitstream
from rdpkit.interfaces import Codec, Divergence, Estimate

MARKERS_ENV = "RDPKIT_TOY_MARKERS"


class ToyQuant(Codec):
    """Quantise each pixel to `levels` values over the learnt range; stochastic dither on decode."""

    def __init__(self, levels: int = 4, dither: bool = False, delay: float = 0.0, crash: bool = False) -> None:
        if levels < 2 or levels > 256:
            raise rdpkit.InputError(f"levels must lie in 2..256, got {levels}.")
        self.levels, self.dither, self.delay, self.crash = levels, dither, delay, crash
        self.lo, self.hi = 0.0, 1.0

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.dither

    def fit(self, data: torch.Tensor, *, steps: int = 1, seed: int = 0) -> ToyQuant:
        marker_dir = os.environ.get(MARKERS_ENV)
        if marker_dir:
            with open(Path(marker_dir) / f"levels{self.levels}-seed{seed}", "a") as f:
                f.write(f"{os.getpid()}\n")
        time.sleep(self.delay * steps)
        if self.crash:  # a worker killed mid-trial (out of memory, a segfault in an extension)
            os._exit(1)
        self.lo, self.hi = float(data.min()), float(data.max())
        return self

    def _encode(self, x: torch.Tensor) -> Bitstream:
        q = ((x.double() - self.lo) / max(self.hi - self.lo, 1e-12)).clamp(0, 1) * (self.levels - 1)
        symbols = q.round().to(torch.uint8).cpu().numpy()
        return Bitstream(self.codec_name, tuple(x.shape), zlib.compress(symbols.tobytes(), 9), {"lo": self.lo, "hi": self.hi, "dtype": str(x.dtype)})

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        try:
            raw = zlib.decompress(bits.payload)
        except zlib.error as exc:
            raise rdpkit.CorruptBitstream(f"the toy-quant payload does not decompress ({exc}); re-encode the images.") from None
        q = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy()).double().reshape(bits.shape)
        step = (bits.header["hi"] - bits.header["lo"]) / (self.levels - 1)
        if self.dither:
            g = torch.Generator().manual_seed(0 if seed is None else seed)
            q = q + torch.rand(q.shape, generator=g, dtype=torch.float64) - 0.5
        x = (bits.header["lo"] + q * step).clamp(0, 1)
        return x.to(getattr(torch, bits.header["dtype"].removeprefix("torch.")))


class ToyMeanGap(Divergence):
    """|E p − E q| of the per-sample mean intensity: blind to everything else, which the contract tests catch."""

    quantity = "mean gap"

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        a, b = p.double().mean(1), q.double().mean(1)
        stderr = float((a.var() / a.numel() + b.var() / b.numel()).sqrt())
        return Estimate(float((a.mean() - b.mean()).abs()), stderr, min(a.numel(), b.numel()), self.quantity)


@rdpkit.hookimpl
def rdpkit_codecs() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("toy-quant", ToyQuant, summary="toy learnable uniform quantiser")]


@rdpkit.hookimpl
def rdpkit_divergences() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("toy-mean-gap", ToyMeanGap, summary="gap between mean intensities")]


@pytest.fixture
def toy_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy plugin installed for this process, its spawned workers and subprocesses (and Ray's)."""
    install_plugin(monkeypatch, tmp_path / "site", "rdpkit-toy", "toy", "test_sweep_toy")
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv(MARKERS_ENV, str(markers))
    return markers


def test_toy_codec_and_divergence_obey_the_contracts(rdpkit_registry):
    rdpkit_registry.register(sys.modules[__name__], "toy")
    codec = rdpkit_registry.create("codec", "toy-quant", levels=8, dither=True)
    rt.check_codec(codec)
    # The toy divergence sees means only, on purpose (tests compare it with a formula); the contract says so.
    with pytest.raises(AssertionError, match="times the spread, same mean"):
        rt.check_divergence(rdpkit_registry.create("divergence", "toy-mean-gap"))


def test_toy_codec_error_shrinks_with_levels(rdpkit_registry):
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    errors = []
    for levels in (2, 4, 16):
        c = ToyQuant(levels).fit(x)
        errors.append(float((c.decode(c.encode(x)) - x).abs().max()))
        assert errors[-1] <= 0.5 / (levels - 1) + 1e-6  # half a quantisation step
    assert errors == sorted(errors, reverse=True)
