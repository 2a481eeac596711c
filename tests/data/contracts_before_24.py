# rdpkit.testing as it was before issue 24 (commit e451df6), relative imports made absolute: tests/test_contract_mutants.py shows its mutants pass it.
"""Test support for plugin authors: a pytest plugin with a registry fixture and the contract tests.

rdpkit installs this module as a pytest plugin (entry point ``pytest11``), so in a plugin's
own test suite::

    import rdpkit.testing as rt
    import my_plugin

    def test_my_metric_obeys_the_axioms(rdpkit_registry):
        rdpkit_registry.register(my_plugin)
        rt.check_distortion(rdpkit_registry.create("distortion", "my-metric"))

Its fixtures: ``rdpkit_registry`` (above) and ``no_network`` (any connection attempt fails
the test, for checking that weight loading works, or fails clearly, offline).

Each ``check_*`` function asserts the interface's axioms with hypothesis-generated inputs and
raises AssertionError naming the axiom that failed. Heavy imports happen inside the functions:
loading this pytest plugin costs nothing in projects that never use it.
"""

from __future__ import annotations

from typing import Any

import pytest

from rdpkit.registry import Registry
from rdpkit.spec import component_name


def fresh_registry(*plugins: Any, builtin: bool = True) -> Registry:
    """A registry with entry-point discovery off, holding rdpkit's built-ins (optional) and `plugins`."""
    from rdpkit import builtin as builtin_plugin

    registry = Registry(entry_points=False)
    if builtin:
        registry.register(builtin_plugin, "builtin", distribution="rdpkit")
    for p in plugins:
        registry.register(p)
    return registry


@pytest.fixture
def rdpkit_registry() -> Registry:
    """A fresh registry, entry points off, built-ins registered; register your plugin on it."""
    return fresh_registry()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test: for testing weight loading offline."""
    import socket

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _image_pair(seed: int, base: str, damage: str, level: float, n: int, c: int, size: int, dtype: Any) -> tuple[Any, Any]:
    """A reference batch and a damaged copy, deterministic in `seed`."""
    import torch

    from rdpkit.degrade import degrade

    g = torch.Generator().manual_seed(seed)
    if base == "noise":
        x = torch.rand(n, c, size, size, generator=g, dtype=torch.float64)
    elif base == "smooth":
        t = torch.linspace(0, 1, size, dtype=torch.float64)
        phase = torch.rand(n, c, 1, 1, generator=g, dtype=torch.float64) * 6.28
        x = 0.5 + 0.4 * torch.sin(3 * t.view(1, 1, -1, 1) + 5 * t.view(1, 1, 1, -1) + phase)
    elif base == "constant":
        x = torch.rand(n, c, 1, 1, generator=g, dtype=torch.float64).expand(n, c, size, size).contiguous()
    else:  # a natural image
        from rdpkit.data import load_image

        img = load_image(f"builtin:{base}", size=size, gray=(c == 1)).double()
        x = img.expand(n, c, size, size).contiguous()
        x = (x + 0.02 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    y = degrade(x, f"{damage}:{level}", seed=seed)
    return x.to(dtype), y.to(dtype)


def check_distortion(
    d: Any,
    *,
    size: int | None = None,
    channels: int = 3,
    max_examples: int = 12,
    atol: float = 1e-5,
    dtypes: tuple[str, ...] = ("float32", "float64"),
) -> None:
    """Assert the Distortion axioms: Δ(x, x) = 0, Δ ≥ 0, one finite value per image of the
    input's dtype and device, each image's value independent of the rest of the batch, and
    finite gradients when `d.info.differentiable`."""
    import torch
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from rdpkit.interfaces import Distortion

    assert isinstance(d, Distortion), f"{type(d).__name__} is not an rdpkit Distortion"
    size = size or max(32, d.min_size)
    differentiable = bool(d.info.differentiable) if d.info is not None else False
    name = component_name(d)

    @settings(max_examples=max_examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(
        seed=st.integers(0, 2**31 - 1),
        base=st.sampled_from(["noise", "smooth", "constant", "astronaut", "coffee"]),
        damage=st.sampled_from(["gaussian", "blur", "jpeg", "contrast", "shift"]),
        level=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
        dtype=st.sampled_from(dtypes),
        device=st.sampled_from(devices()),
    )
    def axioms(seed: int, base: str, damage: str, level: float, dtype: str, device: str) -> None:
        lvl = {"gaussian": level / 10, "jpeg": 10 * level, "contrast": level / 4}.get(damage, level)
        x, y = _image_pair(seed, base, damage, lvl, 2, channels, size, getattr(torch, dtype))
        x, y = x.to(device), y.to(device)
        dd = d.to(device=device)
        with torch.no_grad():
            same = dd(x, x)
            value = dd(x, y)
            first = dd(x[:1], y[:1])
        for v, what in ((same, "Δ(x, x)"), (value, "Δ(x, y)")):
            assert v.shape == (2,), f"{name}: {what} must have shape [N] = [2], got {tuple(v.shape)}"
            assert v.dtype == x.dtype, f"{name}: {what} is {v.dtype} for {x.dtype} input; keep the input's dtype"
            assert v.device == x.device, f"{name}: {what} is on {v.device} for input on {x.device}"
            assert bool(torch.isfinite(v).all()), f"{name}: {what} is not finite: {v.tolist()}"
        assert float(same.abs().max()) <= atol, f"{name}: Δ(x, x) = {same.tolist()} is not 0 (tolerance {atol})"
        assert float(value.min()) >= -atol, f"{name}: Δ(x, y) = {value.tolist()} is negative"
        assert torch.allclose(first[0], value[0], rtol=1e-4, atol=max(atol, 1e-6)), (
            f"{name}: the first image's value depends on the rest of the batch ({float(first[0])} alone, {float(value[0])} in a batch)"
        )
        if differentiable:
            y = y.clone().requires_grad_(True)
            dd(x, y).sum().backward()
            assert y.grad is not None and bool(torch.isfinite(y.grad).all()), f"{name}: gradient with respect to x_hat is not finite"

    axioms()


def check_critic(c: Any, *, size: int | None = None, channels: int = 3, max_examples: int = 8) -> None:
    """Assert the Critic axioms: one finite score per image, the input's dtype and device, batch independence."""
    import torch
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from rdpkit.interfaces import Critic

    assert isinstance(c, Critic), f"{type(c).__name__} is not an rdpkit Critic"
    size = size or max(32, c.min_size)

    @settings(max_examples=max_examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**31 - 1), base=st.sampled_from(["noise", "smooth", "astronaut"]), device=st.sampled_from(devices()),
           dtype=st.sampled_from(["float32", "float64"]))
    def axioms(seed: int, base: str, device: str, dtype: str) -> None:
        x, _ = _image_pair(seed, base, "blur", 1.0, 3, channels, size, getattr(torch, dtype))
        x = x.to(device)
        cc = c.to(device=device)
        with torch.no_grad():
            s = cc.score(x)
            s0 = cc.score(x[:1])
        assert s.shape == (3,), f"score must have shape [N] = [3], got {tuple(s.shape)}"
        assert s.device == x.device and s.dtype == x.dtype, f"score is {s.dtype} on {s.device} for {x.dtype} input on {x.device}"
        assert bool(torch.isfinite(s).all()), f"score is not finite: {s.tolist()}"
        assert torch.allclose(s0[0], s[0], rtol=1e-4, atol=1e-5), "the first image's score depends on the rest of the batch"

    axioms()


def check_features(f: Any, *, size: int | None = None, channels: int = 3, max_examples: int = 6) -> None:
    """Assert the FeatureExtractor axioms: an N×F matrix of finite floats on the input's device, F the
    same for every batch, each image's features independent of the batch and the same on a second call,
    and a stated `feature_kind`."""
    import torch
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from rdpkit.interfaces import FeatureExtractor

    assert isinstance(f, FeatureExtractor), f"{type(f).__name__} is not an rdpkit FeatureExtractor"
    assert f.feature_kind in ("pretrained", "self-trained", "random-feature", "hand-crafted"), (
        f"feature_kind {f.feature_kind!r} must say what the features are: pretrained, self-trained, random-feature or hand-crafted")
    size = size or max(32, f.min_size)
    widths: set[int] = set()

    @settings(max_examples=max_examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**31 - 1), base=st.sampled_from(["noise", "smooth", "astronaut", "coffee"]), device=st.sampled_from(devices()),
           dtype=st.sampled_from(["float32", "float64"]))
    def axioms(seed: int, base: str, device: str, dtype: str) -> None:
        x, y = _image_pair(seed, base, "jpeg", 20, 3, channels, size, getattr(torch, dtype))
        x = torch.cat([x, y[:1]]).to(device)
        ff = f.to(device=device)
        with torch.no_grad():
            out, again, first = ff.features(x), ff.features(x), ff.features(x[:1])
        assert out.ndim == 2 and out.shape[0] == 4 and out.shape[1] >= 1, f"features must be N×F with N = 4, got {tuple(out.shape)}"
        assert out.is_floating_point() and out.device == x.device, f"features are {out.dtype} on {out.device} for input on {x.device}"
        assert bool(torch.isfinite(out).all()), "features are not finite"
        assert torch.equal(out, again), "the same images gave different features on a second call"
        assert torch.allclose(first[0], out[0], rtol=1e-4, atol=1e-5), "the first image's features depend on the rest of the batch"
        widths.add(int(out.shape[1]))
        assert len(widths) == 1, f"the number of features changed between batches: {sorted(widths)}"

    axioms()


def check_divergence(div: Any, *, dim: int = 4, n: int = 200, max_examples: int = 5) -> None:
    """Assert the Divergence axioms: a stated `quantity`, a finite Estimate with n and a
    non-negative stderr, and d(p, p') for two samples of one law below d(p, q) for a clearly
    different q: shifted in mean, or with the same mean and a different spread (a divergence
    that sees only means fails). A divergence whose class sets ``discrete = True`` gets
    integer-valued samples of one feature."""
    import torch
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from rdpkit.interfaces import Divergence, Estimate

    assert isinstance(div, Divergence), f"{type(div).__name__} is not an rdpkit Divergence"
    dim = getattr(div, "dimension", None) or dim  # estimators of a fixed dimension (1-D Wasserstein)

    discrete = bool(getattr(div, "discrete", False))
    if discrete:  # plug-in estimators of discrete laws see few symbols in one feature
        dim = 1

    def draw(g: torch.Generator, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
        x = torch.randn(n, dim, generator=g) * scale + shift
        return (1.5 * x).round().clamp(-12, 12) if discrete else x

    @settings(max_examples=max_examples, deadline=None, derandomize=True)
    @given(seed=st.integers(0, 2**31 - 1), amount=st.floats(3.0, 5.0))
    def axioms(seed: int, amount: float) -> None:
        g = torch.Generator().manual_seed(seed)
        p, p2 = draw(g), draw(g)
        same = div.estimate(p, p2)
        others = {f"p shifted by {amount:.2f}": draw(g, shift=amount), f"p with {amount:.2f} times the spread, same mean": draw(g, scale=amount)}
        far = {what: div.estimate(p, q) for what, q in others.items()}
        for e in (same, *far.values()):
            assert isinstance(e, Estimate), f"estimate returned {type(e).__name__}, not Estimate"
            assert isinstance(e.quantity, str) and e.quantity.strip(), f"the Estimate does not say what its value is (quantity = {e.quantity!r}); set the class's quantity, e.g. 'W1'"
            assert e.n > 0 and e.stderr >= 0 and e.stderr == e.stderr, f"bad n or stderr in {e}"
            assert e.value == e.value and abs(e.value) != float("inf"), f"estimate is not finite: {e}"
        for what, e in far.items():
            assert same.value < e.value, f"d(p, p') = {same.value} is not below d(p, q) = {e.value} for q = {what}"

    axioms()


def check_codec(codec: Any, x: Any | None = None, fit_options: dict[str, Any] | None = None, fit_data: str = "digits") -> None:
    """Assert the Codec axioms: bytes round-trip, decoded shape/dtype/range, rate from real
    bytes, reproducible decoding under a seed, and a clear error on corrupt bitstreams.

    A learnable codec that is not fitted yet is first fitted, with `fit_options` (default: the
    codec's own `quick_fit`), on `fit_data` (an image source: scikit-learn's digits by default;
    ``builtin:training`` for photo codecs, at 64×64), and checked on held-out images of it.
    """
    import torch

    from rdpkit.bitstream import Bitstream
    from rdpkit.errors import CorruptBitstream
    from rdpkit.interfaces import Codec

    assert isinstance(codec, Codec), f"{type(codec).__name__} is not an rdpkit Codec"
    if not codec.fitted:
        from rdpkit.data import Source

        source = Source.parse(fit_data)
        data = source.load(size=None if source.kind == "digits" else 64)
        if data.shape[0] < 10:  # a few photographs: random flips and crops of them to train on
            data = torch.cat([data, data.flip(-1), data.flip(-2), data.flip(-1, -2)])
        codec.fit(data[:-8], **(codec.quick_fit if fit_options is None else fit_options))
        assert codec.fitted, f"{type(codec).__name__}.fit() returned but the codec still says it is not fitted"
        x = data[-8:] if x is None else x
    if x is None:
        x, _ = _image_pair(0, "astronaut", "blur", 0.5, 2, 3, max(32, codec.min_size), torch.float32)
    bits = codec.encode(x)
    assert isinstance(bits, Bitstream), f"encode returned {type(bits).__name__}, not Bitstream"
    raw = bits.to_bytes()
    assert bits.num_bytes == len(raw) > 0 and bits.bpp > 0, "the rate must be measured from real bytes"
    y = codec.decode(raw, seed=1)
    assert y.shape == x.shape and y.dtype == x.dtype, f"decoded {tuple(y.shape)} {y.dtype} for input {tuple(x.shape)} {x.dtype}"
    assert float(y.min()) >= 0 and float(y.max()) <= 1, "decoded images must lie in [0, 1]"
    assert torch.equal(y, codec.decode(raw, seed=1)), "decoding the same bits with the same seed must give the same images"
    for broken in (raw[: len(raw) // 2], raw[:-1] + bytes([raw[-1] ^ 0xFF])):
        try:
            codec.decode(broken)
        except CorruptBitstream:
            continue
        raise AssertionError("a truncated or damaged bitstream must raise rdpkit.CorruptBitstream")
