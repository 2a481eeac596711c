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

from .registry import Registry
from .spec import component_name

#: The values of `FeatureExtractor.feature_kind` a report can name (the interface's default, "unknown", is refused).
FEATURE_KINDS = ("pretrained", "self-trained", "random-feature", "hand-crafted")


def fresh_registry(*plugins: Any, builtin: bool = True) -> Registry:
    """A registry with entry-point discovery off, holding rdpkit's built-ins (optional) and `plugins`."""
    from . import builtin as builtin_plugin

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


def _bounded(max_examples: int) -> Any:
    """Hypothesis settings for a contract check: derandomised, no example database, and no shrinking.

    The inputs are a seed and a few labels, so a shrunk example says no more than the first
    failing one, and shrinking a slow component took 40–329 s. Without it a failing check
    costs at most `max_examples` runs of the component.
    """
    from hypothesis import HealthCheck, Phase, settings

    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


class ContractSkip(UserWarning):
    """A part of a contract check that could not run for this component, with the reason."""


def devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _image_pair(seed: int, base: str, damage: str, level: float, n: int, c: int, size: int, dtype: Any) -> tuple[Any, Any]:
    """A reference batch and a damaged copy, deterministic in `seed`."""
    import torch

    from .degrade import degrade

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
        from .data import load_image

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
    from hypothesis import given
    from hypothesis import strategies as st

    from .interfaces import Distortion

    assert isinstance(d, Distortion), f"{type(d).__name__} is not an rdpkit Distortion"
    size = size or max(32, d.min_size)
    differentiable = bool(d.info.differentiable) if d.info is not None else False
    name = component_name(d)

    @_bounded(max_examples)
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
            out = dd(x, y)
            assert out.requires_grad and out.grad_fn is not None, (
                f"{name}: its info says differentiable, but Δ(x, x̂) is detached from x̂ (no grad_fn); compute it with torch "
                "operations on x̂ (no .detach(), .item(), numpy or torch.no_grad inside), or register it with differentiable=False")
            try:
                out.sum().backward()
            except RuntimeError as exc:
                raise AssertionError(f"{name}: its info says differentiable, but backpropagating through Δ(x, x̂) failed "
                                     f"({str(exc).splitlines()[0]}); make every operation on x̂ differentiable, or register it with differentiable=False") from None
            assert y.grad is not None, (f"{name}: its info says differentiable, but no gradient reached x̂; compute Δ from x̂ itself, "
                                        "or register it with differentiable=False")
            assert bool(torch.isfinite(y.grad).all()), f"{name}: the gradient with respect to x̂ is not finite; guard the divisions, roots and logs near 0"

    axioms()


def check_critic(c: Any, *, size: int | None = None, channels: int = 3, max_examples: int = 8) -> None:
    """Assert the Critic axioms: one finite score per image, the input's dtype and device, batch independence."""
    import torch
    from hypothesis import given
    from hypothesis import strategies as st

    from .interfaces import Critic

    assert isinstance(c, Critic), f"{type(c).__name__} is not an rdpkit Critic"
    size = size or max(32, c.min_size)

    @_bounded(max_examples)
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
    from hypothesis import given
    from hypothesis import strategies as st

    from .interfaces import FeatureExtractor

    assert isinstance(f, FeatureExtractor), f"{type(f).__name__} is not an rdpkit FeatureExtractor"
    kind = f.feature_kind
    assert kind in FEATURE_KINDS, (
        f"{component_name(f)}: feature_kind is {kind!r}, but every report prints it beside FID and KID; set the class attribute "
        "feature_kind to what the features are: 'pretrained', 'self-trained', 'random-feature' or 'hand-crafted'")
    size = size or max(32, f.min_size)
    widths: set[int] = set()

    @_bounded(max_examples)
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


#: Losses allowed in `check_divergence`'s comparisons (of `draws`, default 10); see its docstring for the power.
DIVERGENCE_LOSSES_ALLOWED = 1


def check_divergence(div: Any, *, dim: int = 4, n: int = 200, draws: int = 10, max_examples: int | None = None) -> None:
    """Assert the Divergence axioms: a stated `quantity`, a finite Estimate with n and a
    non-negative stderr, and d(p, p') for two samples of one law below d(p, q) for a clearly
    different q, in a statistical test over `draws` independent draws.

    Two alternatives q: p shifted in mean (by 3 to 5 standard deviations), and p with 3 to 5
    times the spread and the same mean. The second q is drawn in antithetic pairs (v, −v), so
    its sample mean is exactly the law's mean: a divergence that sees only the means of the
    features then finds q no farther from p than p' is, and ranks q above p' with probability
    at most ½ per draw (0.35 for any distance between the means). Each alternative must rank
    above p' in all but `DIVERGENCE_LOSSES_ALLOWED` (1) of the 10 draws. Power: a divergence
    blind to the spread passes with probability at most 11/1024 ≈ 1.1% (0.06% at 0.35); one
    that ranks a clearly different law correctly 99% of the time fails with probability 0.4%.
    The draws are seeded, so the check is deterministic. A divergence whose class sets
    ``discrete = True`` gets integer-valued samples of one feature. `max_examples` is the
    former name of `draws` (any value below 10 counts as 10). It makes 3 × `draws` estimates
    of n samples each; n = 100 runs the slow estimators 2 to 30 times faster (sinkhorn 66 s → 8 s
    on a shared 2-core CPU), with less margin (kid then loses one draw of the 10).
    """
    import math

    import torch

    from .interfaces import Divergence, Estimate

    assert isinstance(div, Divergence), f"{type(div).__name__} is not an rdpkit Divergence"
    if max_examples is not None:
        draws = max(10, max_examples)
    assert isinstance(draws, int) and draws >= 10, f"draws must be an integer of at least 10 (the stated power needs them), got {draws!r}"
    name = component_name(div)
    dim = getattr(div, "dimension", None) or dim  # estimators of a fixed dimension (1-D Wasserstein)

    discrete = bool(getattr(div, "discrete", False))
    if discrete:  # plug-in estimators of discrete laws see few symbols in one feature
        dim = 1

    def law(z: torch.Tensor) -> torch.Tensor:
        return (1.5 * z).round().clamp(-12, 12) if discrete else z

    def checked(e: Any) -> Any:
        assert isinstance(e, Estimate), f"{name}: estimate returned {type(e).__name__}, not Estimate; return rdpkit.Estimate(value, stderr, n, quantity)"
        assert isinstance(e.quantity, str) and e.quantity.strip(), f"{name}: the Estimate does not say what its value is (quantity = {e.quantity!r}); set the class's quantity, e.g. 'W1'"
        assert e.n > 0 and e.stderr >= 0 and e.stderr == e.stderr, f"{name}: bad n or stderr in {e}; n counts the samples, stderr is a non-negative number"
        assert e.value == e.value and abs(e.value) != math.inf, f"{name}: estimate is not finite: {e}"
        return e

    losses: dict[str, list[str]] = {"shifted": [], "spread": []}
    for i in range(draws):
        g = torch.Generator().manual_seed(104729 * i + 7)
        amount = 3.0 + 2.0 * float(torch.rand((), generator=g))
        p, p2 = law(torch.randn(n, dim, generator=g)), law(torch.randn(n, dim, generator=g))
        shifted = law(torch.randn(n, dim, generator=g) + amount)
        v = torch.randn((n + 1) // 2, dim, generator=g) * amount
        spread = law(torch.cat([v, -v])[:n]) if n % 2 == 0 else law(torch.cat([v, -v[:-1], torch.zeros(1, dim)]))
        same = checked(div.estimate(p, p2)).value
        for key, q in (("shifted", shifted), ("spread", spread)):
            far = checked(div.estimate(p, q)).value
            if not same < far:
                losses[key].append(f"d(p, p') = {same:.4g}, d(p, q) = {far:.4g} (amount {amount:.2f})")
    what = {"shifted": "p shifted in mean by 3 to 5 standard deviations",
            "spread": "p with 3 to 5 times the spread, same mean"}
    for key, lost in losses.items():
        assert len(lost) <= DIVERGENCE_LOSSES_ALLOWED, (
            f"{name}: d(p, p') for two samples of one law was not below d(p, q) for q = {what[key]} in {len(lost)} of {draws} draws "
            f"(at most {DIVERGENCE_LOSSES_ALLOWED} allowed; first: {lost[0]}); "
            + ("a divergence must grow when the laws differ in spread, not only in mean (one that sees only means fails here)"
               if key == "spread" else "a divergence must grow when the laws move apart"))


#: Seconds a decode in another process may take (the interpreter's start and imports included) before the check fails.
OTHER_PROCESS_TIMEOUT = 300


def _snapshot(codec: Any) -> tuple[Any, bytes | None, str]:
    """A way to make fresh copies of `codec` as it is now, and its pickle for another process (None, with the reason, if it cannot be pickled)."""
    import copy
    import pickle

    try:
        import cloudpickle  # classes defined in a test function or __main__ travel by value

        dumps = cloudpickle.dumps
    except ImportError:  # pragma: no cover - cloudpickle comes with ray
        dumps = pickle.dumps
    try:
        data = dumps(codec)
    except Exception as exc:  # noqa: BLE001 - any pickling failure: fall back to deep copies
        template = copy.deepcopy(codec)
        return (lambda: copy.deepcopy(template)), None, f"it cannot be pickled ({type(exc).__name__}: {exc})"
    return (lambda: pickle.loads(data)), data, ""


_WORKER_SCRIPT = """
import io, pickle, struct, sys, traceback
import torch
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    paths, codec, raw = pickle.loads(inp.read(struct.unpack('>Q', head)[0]))
    sys.path[:0] = [p for p in paths if p not in sys.path]
    try:
        buf = io.BytesIO()
        torch.save(pickle.loads(codec).decode(raw, seed=1), buf)
        reply = (True, buf.getvalue())
    except BaseException as exc:
        reply = (False, f'{type(exc).__name__}: {exc}')
    data = pickle.dumps(reply)
    out.write(struct.pack('>Q', len(data)) + data)
    out.flush()
"""
_worker: Any = None


def _stop_worker() -> None:
    """End the decoding interpreter at exit: its input closed, it leaves its loop."""
    global _worker
    if _worker is not None:
        worker, _worker = _worker, None
        try:
            worker.stdin.close()
            worker.wait(timeout=10)
        except Exception:  # noqa: BLE001 - already gone or stuck: kill it
            worker.kill()
            worker.wait()
        worker.stdout.close()


def _decode_elsewhere(pickled: bytes, raw: bytes) -> Any:
    """Decode `raw` (seed 1) with the unpickled codec in another Python interpreter; the decoded images, or the reason it failed.

    The interpreter is started once per test session and only ever decodes: whatever a codec keeps
    in its module or class while encoding, in this process, is not there.
    """
    import atexit
    import io
    import os
    import pickle
    import select
    import struct
    import subprocess
    import sys

    import torch

    global _worker
    if _worker is None or _worker.poll() is not None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        _worker = subprocess.Popen([sys.executable, "-c", _WORKER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=env)
        atexit.register(_stop_worker)
    worker = _worker
    request = pickle.dumps(([p for p in sys.path if p], pickled, raw))

    def stop(why: str) -> str:
        worker.kill()
        _stop_worker()
        return why

    try:
        worker.stdin.write(struct.pack(">Q", len(request)) + request)
        worker.stdin.flush()
        chunks, need, size = [], 8, None
        while need:
            if not select.select([worker.stdout], [], [], OTHER_PROCESS_TIMEOUT)[0]:
                return stop(f"it did not finish within {OTHER_PROCESS_TIMEOUT} s")
            chunk = os.read(worker.stdout.fileno(), need)
            if not chunk:
                return stop("the other process died")
            chunks.append(chunk)
            need -= len(chunk)
            if need == 0 and size is None:
                size = struct.unpack(">Q", b"".join(chunks))[0]
                chunks, need = [], size
    except OSError as exc:
        return stop(f"the other process could not be reached ({exc})")
    ok, value = pickle.loads(b"".join(chunks))
    return torch.load(io.BytesIO(value), weights_only=True) if ok else f"it failed there ({value})"


def _rate_settings(codec: Any, declared: Any) -> list[dict[str, Any]]:
    """The declared settings as a list of option dicts: {"quality": (10, 50, 90)} (one option, or several zipped) or [{...}, {...}]."""
    if declared is None:
        declared = getattr(codec, "rate_settings", None)
    if not declared:
        return []
    if isinstance(declared, dict):
        keys = list(declared)
        columns = [list(v) if isinstance(v, (list, tuple)) else [v] for v in declared.values()]
        count = max(len(c) for c in columns)
        assert all(len(c) in (1, count) for c in columns), f"rate_settings {declared!r}: every option needs one value or {count}"
        return [{k: (c[0] if len(c) == 1 else c[i]) for k, c in zip(keys, columns)} for i in range(count)]
    settings = [dict(d) for d in declared]
    assert all(settings), f"rate_settings {declared!r} must be option dicts, such as [{{'quality': 10}}, {{'quality': 90}}]"
    return settings


def _sibling(codec: Any, setting: dict[str, Any]) -> Any:
    """`codec` rebuilt with `setting`: its class called with the constructor options read back from its attributes of the same names, `setting` over them."""
    import inspect

    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    try:
        params = inspect.signature(type(codec)).parameters
    except (TypeError, ValueError):
        params = {}
    current = {k: getattr(codec, k) for k, p in params.items() if p.kind in kinds and k not in setting and hasattr(codec, k)}
    try:
        other = type(codec)(**current, **setting)
    except Exception:  # noqa: BLE001 - an attribute that is not the option it is named after: the defaults, then
        try:
            other = type(codec)(**setting)
        except Exception as exc:  # noqa: BLE001 - reported as the declaration's fault
            raise AssertionError(f"{component_name(codec)}: its rate setting {setting} cannot build the codec ({type(exc).__name__}: {exc}); "
                                 "declare in rate_settings options that its constructor takes") from None
    other.info = codec.info
    return other


def check_codec(
    codec: Any,
    x: Any | None = None,
    fit_options: dict[str, Any] | None = None,
    fit_data: str = "digits",
    *,
    rate_settings: Any = None,
    other_process: bool = True,
) -> None:
    """Assert the Codec axioms: the decoder needs nothing but the bytes, decoded images depend on
    them, the rate is measured from them, and distortion falls as the rate rises.

    - bytes round-trip: `encode` gives a Bitstream of real bytes (rate > 0), and they are decoded
      in a fresh instance (an unpickled copy of the codec taken before it saw the images), in the
      encoding instance, and, unless `other_process` is False, in another Python process from the
      pickle and the bytes alone: the three decodings must agree, so no state kept in the object,
      its class or its module between `encode` and `decode` can stand in for the bitstream;
    - decoded shape, dtype and range [0, 1]; the same images again under the same seed;
    - decodings depend on the bytes: a different batch (the negatives, mirrored) gives different
      bytes and different decoded images (a learnable codec whose training left it coding every
      batch to the same bytes gets a ContractSkip warning instead), and flipping one byte of the payload (at a quarter, half
      or three quarters of it, one at a time, the container's CRC recomputed) changes the decoded
      images or is refused with rdpkit.CorruptBitstream at one of the three at least (a format may
      hold bytes that change nothing); any other error there fails; a truncated or damaged
      container is refused too;
    - distortion falls as the rate rises over the codec's own settings, declared as the class
      attribute ``rate_settings`` (e.g. ``{"quality": (10, 50, 90)}``, or a list of option dicts)
      or passed here: each setting is built from the codec's constructor options, fitted like the
      codec if it is learnable, and ordered by its rate; the MSE must fall strictly from one to the
      next (or already be 0). Without declared settings this part is skipped with a ContractSkip
      warning saying so.

    A learnable codec that is not fitted yet is first fitted, with `fit_options` (default: the
    codec's own `quick_fit`), on `fit_data` (an image source: scikit-learn's digits by default;
    ``builtin:training`` for photo codecs, at 64×64), and checked on held-out images of it.
    """
    import warnings
    from itertools import pairwise

    import torch

    from .bitstream import Bitstream
    from .errors import CorruptBitstream
    from .interfaces import Codec

    assert isinstance(codec, Codec), f"{type(codec).__name__} is not an rdpkit Codec"
    name = component_name(codec)
    options = codec.quick_fit if fit_options is None else fit_options
    train = None

    def fit(c: Any) -> None:
        nonlocal train, x
        if train is None:
            from .data import Source

            source = Source.parse(fit_data)
            data = source.load(size=None if source.kind == "digits" else 64)
            if data.shape[0] < 10:  # a few photographs: random flips and crops of them to train on
                data = torch.cat([data, data.flip(-1), data.flip(-2), data.flip(-1, -2)])
            train = data[:-8]
            x = data[-8:] if x is None else x
        c.fit(train, **options)
        assert c.fitted, f"{type(c).__name__}.fit() returned but the codec still says it is not fitted; set fitted once fit() has trained it"

    if not codec.fitted:
        fit(codec)
    if x is None:
        x, _ = _image_pair(0, "astronaut", "blur", 0.5, 2, 3, max(32, codec.min_size), torch.float32)
    fresh, pickled, unpicklable = _snapshot(codec)  # before the codec sees the images

    bits = codec.encode(x)
    assert isinstance(bits, Bitstream), f"{name}: encode returned {type(bits).__name__}, not Bitstream; build one with Bitstream(self.codec_name, tuple(x.shape), payload, header)"
    raw = bits.to_bytes()
    assert bits.num_bytes == len(raw) > 0 and bits.bpp > 0, f"{name}: the rate must be measured from real bytes; put what the decoder needs in the Bitstream's payload"
    y = fresh().decode(raw, seed=1)
    assert y.shape == x.shape and y.dtype == x.dtype, f"{name}: decoded {tuple(y.shape)} {y.dtype} for input {tuple(x.shape)} {x.dtype}; return the input's shape and dtype"
    assert float(y.min()) >= 0 and float(y.max()) <= 1, f"{name}: decoded images must lie in [0, 1]; clamp them"
    assert torch.equal(y, fresh().decode(raw, seed=1)), f"{name}: decoding the same bits with the same seed must give the same images; draw the decoder's noise from the seed"
    assert torch.equal(y, codec.decode(raw, seed=1)), (
        f"{name}: the instance that encoded the images decodes them differently from a fresh instance given the same bytes; "
        "the decoder must use only the bitstream, not state kept in the codec since encode")
    if not other_process:
        pass
    elif pickled is None:
        warnings.warn(f"{name}: the decode in another process was skipped because {unpicklable}; fresh instances were deep copies", ContractSkip, stacklevel=2)
    else:
        there = _decode_elsewhere(pickled, raw)
        assert not isinstance(there, str), (
            f"{name}: decoding its bytes in another process, with the codec as it was before encoding, failed: {there}; "
            "the decoder must need only the bytes and the codec's options and weights, not state kept in its module or class since encode")
        assert torch.allclose(there, y, rtol=0, atol=1e-6), (
            f"{name}: another process decodes the same bytes differently (largest difference {float((there - y).abs().max()):.3g}); "
            "the decoder must use only the bitstream, not state kept in its module or class since encode")

    # Decodings depend on the bytes.
    x2 = (1 - x).flip(-1)  # the negatives, mirrored: different images to any codec that codes images at all
    raw2 = codec.encode(x2).to_bytes()
    if raw2 != raw:
        assert not torch.equal(fresh().decode(raw2, seed=1), y), (
            f"{name}: two batches with different bytes gave the same decoded images; decode the images from the payload, not a constant")
    elif codec.learnable:  # a learnable codec trained a few steps (quick_fit) may code every image to the same latents
        warnings.warn(f"{name}: two different batches (the second the first's negatives, mirrored) gave the same bytes, so its training "
                      "left it coding no information about the images; the contract could not check that decodings depend on the images "
                      "(train it longer, e.g. in quick_fit)", ContractSkip, stacklevel=2)
    else:
        raise AssertionError(f"{name}: two different batches (the second the first's negatives, mirrored) gave the same bytes; "
                             "the bitstream must carry the images")
    unpacked = Bitstream.from_bytes(raw)
    payload = unpacked.payload
    positions = sorted({len(payload) // 4, len(payload) // 2, 3 * len(payload) // 4} & set(range(len(payload))))
    for pos in positions:  # a format may hold bytes that change nothing (an unused table entry): one of three must matter
        damaged = bytearray(payload)
        damaged[pos] ^= 0xFF
        data = Bitstream(unpacked.codec, unpacked.shape, bytes(damaged), unpacked.header).to_bytes()
        try:
            z = fresh().decode(data, seed=1)
        except CorruptBitstream:
            break
        except Exception as exc:  # noqa: BLE001 - what a damaged payload raises, reported as the axiom
            raise AssertionError(f"{name}: a payload with byte {pos} of {len(payload)} flipped (CRC recomputed) raised {type(exc).__name__} ({exc}); "
                                 "catch errors of a damaged payload and raise rdpkit.CorruptBitstream") from None
        if not torch.equal(z, y):
            break
    else:
        raise AssertionError(f"{name}: flipping byte {', '.join(map(str, positions))} of its {len(payload)}-byte payload (one at a time) left the decoded "
                             "images unchanged; decode the images from the payload (or refuse a damaged one with rdpkit.CorruptBitstream)")
    for broken in (raw[: len(raw) // 2], raw[:-1] + bytes([raw[-1] ^ 0xFF])):
        try:
            codec.decode(broken)
        except CorruptBitstream:
            continue
        raise AssertionError(f"{name}: a truncated or damaged bitstream must raise rdpkit.CorruptBitstream; keep the container's checks (Bitstream.from_bytes)")

    # Distortion falls as the rate rises over the codec's own settings.
    settings = _rate_settings(codec, rate_settings)
    if len(settings) < 2:
        warnings.warn(f"{name}: the rate-distortion part of the codec contract was skipped: the codec declares no rate_settings "
                      "(a class attribute such as {'quality': (10, 50, 90)}) and none were passed", ContractSkip, stacklevel=2)
        return
    points = []
    for setting in settings:
        other = _sibling(codec, setting)
        if not other.fitted:
            fit(other)
        data = other.encode(x).to_bytes()
        z = _sibling(codec, setting) if not other.learnable else other
        decoded = z.decode(data, seed=1)
        points.append((Bitstream.from_bytes(data).bpp, float((decoded.double() - x.double()).pow(2).mean()), setting))
    points.sort(key=lambda t: t[0])
    assert points[0][0] < points[-1][0], f"{name}: every declared rate setting gave {points[0][0]:.4g} bpp; declare settings of an option that changes the rate"
    for (r0, d0, s0), (r1, d1, s1) in pairwise(points):
        assert r0 == r1 or d1 < d0 or d0 == 0, (
            f"{name}: distortion does not fall as the rate rises over its rate_settings: {s0} gives {r0:.4g} bpp at MSE {d0:.4g}, "
            f"{s1} {r1:.4g} bpp at MSE {d1:.4g}; spend the extra bits on the images (or declare settings that do)")
