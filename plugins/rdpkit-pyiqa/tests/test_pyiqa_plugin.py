"""rdpkit-pyiqa: the catalogue against pyiqa, the axioms over every weight-free metric, the
score conventions against pyiqa itself and closed forms, and the offline failure sentences."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys

import pytest
import torch

import rdpkit
import rdpkit.testing as rt
from rdpkit.data import load_image
from rdpkit.degrade import degrade
from rdpkit.spec import NAME_PATTERN
from rdpkit_pyiqa import catalog, plugin

pyiqa = pytest.importorskip("pyiqa")

# (pyiqa name, hypothesis examples, image side): the slow ones get few, small examples.
WEIGHT_FREE_FR = [
    ("ssim", 6, 32), ("ssimc", 6, 32), ("psnr", 8, 32), ("psnry", 6, 32), ("fsim", 4, 32), ("gmsd", 6, 32),
    ("vsi", 2, 32), ("vif", 2, 33), ("nlpd", 2, 32), ("mad", 2, 32), ("cw_ssim", 2, 64), ("ms_ssim", 2, 161),
]
WEIGHT_FREE_NR = ["entropy", "piqe"]


@pytest.fixture(scope="module")
def registry():
    return rt.fresh_registry(plugin)


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    x = load_image("builtin:astronaut", size=64).reshape(1, 3, 64, 64).repeat(2, 1, 1, 1)
    return x, degrade(x, "gaussian:0.05", seed=3)


def pyiqa_direct(name: str, *args: torch.Tensor) -> torch.Tensor:
    with contextlib.redirect_stdout(io.StringIO()):
        metric = pyiqa.create_metric(name, device="cpu")
    return metric(*args).flatten()


# -- the catalogue --------------------------------------------------------------------------


def test_catalogue_is_pyiqas_current_list():
    for mode in ("FR", "NR"):
        listed = set(pyiqa.list_models(metric_mode=mode)) - catalog.SET_LEVEL
        assert {e.pyiqa_name for e in catalog.entries() if e.mode == mode} == listed


def test_names_are_valid_unique_and_do_not_shadow_the_core(registry):
    names = [e.name for e in catalog.entries()]
    assert len(names) == len(set(names))
    assert all(NAME_PATTERN.match(n) and n.startswith("pyiqa-") for n in names)
    assert catalog.rdpkit_name("clipiqa+_vitL14_512") == "pyiqa-clipiqa-plus-vitl14-512"
    assert catalog.rdpkit_name("lpips-vgg+") == "pyiqa-lpips-vgg-plus"
    assert {"mse", "ssim", "ms-ssim"}.isdisjoint(names)
    assert set(registry.names("distortion")) >= {"ssim", "pyiqa-ssim", "pyiqa-lpips-vgg"}
    assert "pyiqa-niqe" in registry.names("critic") and "pyiqa-fid" not in registry.names("critic")


def test_metadata_follows_pyiqa(registry):
    info = registry.info("distortion", "pyiqa-lpips")
    assert info.needs_weights and info.differentiable and "lower is better" in info.summary
    assert not registry.info("distortion", "pyiqa-ssim").needs_weights
    assert not registry.info("critic", "pyiqa-entropy").differentiable
    assert catalog.entry("psnr").transform == "offset" and catalog.entry("vif").transform == "offset" and catalog.entry("fsim").transform == "one-minus"
    assert catalog.entry("nlpd").transform == "identity" and catalog.entry("musiq").transform == "negate"


def test_listing_imports_neither_pyiqa_nor_torch():
    code = (
        "import sys, rdpkit; from rdpkit_pyiqa import plugin; r = rdpkit.Registry(entry_points=False); r.register(plugin);"
        "assert 'pyiqa-ssim' in r.names('distortion'); print(sorted(m for m in ('pyiqa', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the axioms and the conventions ---------------------------------------------------------


@pytest.mark.parametrize(("name", "examples", "size"), WEIGHT_FREE_FR, ids=[m[0] for m in WEIGHT_FREE_FR])
def test_weight_free_distortions_obey_the_axioms(registry, name, examples, size):
    d = registry.create("distortion", catalog.rdpkit_name(name))
    rt.check_distortion(d, size=size, max_examples=examples, dtypes=("float32",) if examples < 4 else ("float32", "float64"))


@pytest.mark.parametrize("name", WEIGHT_FREE_NR)
def test_weight_free_critics_obey_the_axioms(registry, name):
    rt.check_critic(registry.create("critic", catalog.rdpkit_name(name)), max_examples=3)


@pytest.mark.parametrize("name", ["ssim", "fsim", "vif", "gmsd", "nlpd"])
def test_values_are_pyiqas_score_under_the_stated_transform(registry, pair, name):
    x, y = pair
    got = registry.create("distortion", catalog.rdpkit_name(name))(x, y)
    score = pyiqa_direct(name, y, x).to(got.dtype)
    transform = catalog.entry(name).transform
    if transform == "one-minus":
        want = (1 - score).clamp_min(0)
    elif transform == "offset":
        want = (pyiqa_direct(name, x, x).to(got.dtype) - score).clamp_min(0)
    else:
        want = score
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_psnr_becomes_the_db_gap_to_a_perfect_copy(registry, pair):
    # pyiqa: PSNR = 10 log10(1 / (mse + 1e-8)), so PSNR(x, x) = 80 dB and Δ = 10 log10((mse + 1e-8) / 1e-8).
    x, y = (t.double() for t in pair)
    mse = (x - y).pow(2).flatten(1).mean(1)
    want = 10 * torch.log10((mse + 1e-8) / 1e-8)
    got = registry.create("distortion", "pyiqa-psnr")(x, y)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_critic_is_lower_is_better(registry, pair):
    x, _ = pair
    torch.testing.assert_close(registry.create("critic", "pyiqa-entropy").score(x), -pyiqa_direct("entropy", x))
    torch.testing.assert_close(registry.create("critic", "pyiqa-piqe").score(x), pyiqa_direct("piqe", x))


def test_gradients_follow_the_metadata(registry, pair):
    x, y = pair
    y = y.clone().requires_grad_(True)
    registry.create("distortion", "pyiqa-gmsd")(x, y).sum().backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0
    assert not registry.create("critic", "pyiqa-entropy").score(y).requires_grad


def test_builtin_ssim_matches_pyiqa_ssimc_to_the_stated_tolerance(registry):
    # README: pyiqa rounds to 8-bit levels and clips negative contrast-structure terms; on builtin
    # images the two agree within 0.003. pyiqa's 'ssim' scores luminance only and differs by up to 0.17.
    builtin, ssimc, ssim_y = rdpkit.distortion("ssim"), registry.create("distortion", "pyiqa-ssimc"), registry.create("distortion", "pyiqa-ssim")
    gaps_c, gaps_y = [], []
    for name in ("astronaut", "rocket"):
        x = load_image(f"builtin:{name}", size=256).reshape(1, 3, 256, 256)
        for damage in ("jpeg:10", "blur:2", "gaussian:0.1"):
            y = degrade(x, damage, seed=0)
            gaps_c.append(abs(float(builtin(x, y) - ssimc(x, y))))
            gaps_y.append(abs(float(builtin(x, y) - ssim_y(x, y))))
    assert max(gaps_c) < 3e-3 and min(gaps_c) > 0
    assert 0.05 < max(gaps_y) < 0.2


# -- bad input and missing weights ----------------------------------------------------------


def test_rgb_only_metric_refuses_gray_with_one_sentence(registry):
    x = torch.rand(1, 1, 32, 32)
    with pytest.raises(rdpkit.InputError, match=r"takes RGB images \(3 channels\), got 1; repeat"):
        registry.create("distortion", "pyiqa-gmsd")(x, x)


def test_too_small_images_are_refused_before_pyiqa_runs(registry):
    x = torch.rand(1, 3, 100, 100)
    with pytest.raises(rdpkit.InputError, match="at least 161×161"):
        registry.create("distortion", "pyiqa-ms-ssim")(x, x)


def test_unknown_pyiqa_option_is_one_sentence(registry):
    with pytest.raises(rdpkit.InputError, match=r"pyiqa-ssim rejected the options \['colour'\]"):
        registry.create("distortion", "pyiqa-ssim", colour=True)


def test_options_reach_pyiqa(registry, pair):
    x, y = pair
    rgb = registry.create("distortion", "pyiqa-ssim", test_y_channel=False)(x, y)
    torch.testing.assert_close(rgb, registry.create("distortion", "pyiqa-ssimc")(x, y))


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Point the torch hub, pyiqa and Hugging Face caches at empty folders, whatever this machine holds."""
    import huggingface_hub.constants
    import pyiqa.utils.download_util

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setattr(pyiqa.utils.download_util, "DEFAULT_CACHE_DIR", str(tmp_path / "hub" / "pyiqa"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "huggingface"))


@pytest.mark.parametrize(
    ("kind", "name", "file", "folder"),
    [
        ("distortion", "pyiqa-lpips", "alexnet-owt-7be5be79.pth", "checkpoints"),  # torchvision via the torch hub
        ("distortion", "pyiqa-pieapp", "PieAPPv0.1-0937b014.pth", "pyiqa"),  # pyiqa's own file
        ("distortion", "pyiqa-topiq-fr", "pytorch_model.bin", "huggingface"),  # a timm backbone via the Hub
        ("critic", "pyiqa-niqe", "niqe_modelparameters.mat", "pyiqa"),
    ],
)
def test_missing_weights_are_one_sentence_without_network(registry, no_network, empty_caches, kind, name, file, folder):
    with pytest.raises(rdpkit.WeightsUnavailable) as err:
        registry.create(kind, name)
    msg = str(err.value)
    assert msg.startswith(name) and repr(file) in msg and folder in msg and msg.count(". ") == 0 and msg.endswith(".")


def test_metric_needing_a_missing_module_is_unavailable(registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "pkg_resources", None)
    with pytest.raises(rdpkit.PluginUnavailable, match="needs the Python module 'pkg_resources'.*pip install 'setuptools<81'"):
        registry.create("critic", "pyiqa-clipiqa")


def test_weight_free_metrics_never_reach_for_the_network(registry, no_network):
    for e in catalog.entries():
        if not e.needs_weights:
            assert isinstance(registry.create(e.kind, e.name), rdpkit.Distortion if e.kind == "distortion" else rdpkit.Critic)


def test_undefined_gradients_on_flat_images_are_taken_as_zero(registry):
    x = torch.full((1, 3, 32, 32), 0.5)
    raw = x.clone().mul(0.8).requires_grad_(True)
    net = registry.create("distortion", "pyiqa-fsim").net
    net(raw, x).sum().backward()
    assert not bool(torch.isfinite(raw.grad).all())  # pyiqa's own gradient is 0/0 here
    y = x.clone().mul(0.8).requires_grad_(True)
    registry.create("distortion", "pyiqa-fsim")(x, y).sum().backward()
    assert bool(torch.isfinite(y.grad).all())
