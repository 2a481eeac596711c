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
    ("vsi", 2, 32), ("vif", 2, 33), ("nlpd", 2, 32), ("mad", 2, 79), ("cw_ssim", 2, 64), ("ms_ssim", 2, 161),
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


# -- sizes, finite values, safe loading -----------------------------------------------------


def _measurer():
    """plugins/rdpkit-pyiqa/measure_min_size.py, the script that measured catalog.MIN_SIZE."""
    import importlib.util
    from pathlib import Path

    path = Path(catalog.__file__).parents[1] / "measure_min_size.py"
    spec = importlib.util.spec_from_file_location("measure_min_size", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MEASURED = ["ssim", "ssimc", "ms_ssim", "psnr", "psnry", "nlpd", "mad", "cw_ssim", "gmsd", "vif", "fsim", "vsi"]


def test_every_measured_metric_has_its_minimum_in_the_catalogue():
    assert set(MEASURED) <= set(catalog.MIN_SIZE) and set(_measurer().METRICS) == set(MEASURED)


@pytest.mark.parametrize("name", MEASURED)
def test_the_recorded_minimum_side_gives_finite_values_that_see_the_noise(registry, name):
    measure = _measurer()
    e = catalog.entry(name)
    d = registry.create("distortion", e.name)
    assert d.min_size == e.min_size >= 1
    assert measure.failure(d, e.min_size) == ""
    # Not every side below fails (mad works at 76 and 77 but not 78); the one just below must.
    assert e.min_size == 1 or measure.failure(d, e.min_size - 1) != ""


@pytest.mark.parametrize(("name", "side"), [("gmsd", 2), ("gmsd", 3), ("fsim", 1), ("ssim", 8), ("ssimc", 5)])
def test_images_below_the_minimum_are_refused_with_one_sentence(registry, name, side):
    x = torch.rand(1, 3, side, side)
    with pytest.raises(rdpkit.InputError, match=f"at least {catalog.MIN_SIZE[name]}×{catalog.MIN_SIZE[name]}") as err:
        registry.create("distortion", catalog.rdpkit_name(name))(x, x)
    assert str(err.value).endswith(".") and str(err.value).count(". ") == 0


def test_mad_on_small_images_is_refused_rather_than_blind_to_noise(registry):
    x = load_image("builtin:astronaut", size=16).reshape(1, 3, 16, 16)
    y = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    with pytest.raises(rdpkit.InputError, match="at least"):
        registry.create("distortion", "pyiqa-mad")(x, y)


def test_mad_refuses_non_square_images_where_pyiqa_scrambles_its_filter(registry):
    x = load_image("builtin:astronaut", size=(96, 103)).reshape(1, 3, 96, 103)
    y = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert float(pyiqa_direct("mad", y, x)) == 0.0  # pyiqa's own value: blind to heavy noise
    with pytest.raises(rdpkit.InputError, match="square images only.*got 96×103; crop them to 96×96") as err:
        registry.create("distortion", "pyiqa-mad")(x, y)
    assert str(err.value).endswith(".") and str(err.value).count(". ") == 0


class _Broken(torch.nn.Module):
    """Stands for a pyiqa network that returns NaN or Inf."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        return torch.full((images[0].shape[0],), self.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize(("kind", "name"), [("distortion", "pyiqa-gmsd"), ("distortion", "pyiqa-psnr"), ("critic", "pyiqa-entropy")])
def test_non_finite_pyiqa_output_is_one_sentence(registry, kind, name, value):
    m = registry.create(kind, name)
    m.net = _Broken(value)
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(rdpkit.InputError, match=f"{name} .*returned NaN or Inf") as err:
        m(x, x.flip(-1)) if kind == "distortion" else m.score(x)
    assert str(err.value).endswith(".") and str(err.value).count(". ") == 0


def test_pyiqa_checkpoints_are_loaded_as_weights_only(tmp_path):
    from rdpkit.weights import tensors_only

    class Payload:
        """Creates a file when unpickled: proof that the file's code ran."""

        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    path = tmp_path / "plain.pth"
    torch.save({"w": Payload()}, path)
    with pytest.raises(rdpkit.WeightsUnavailable, match="does not unpickle") as err, tensors_only("pyiqa-x"):
        torch.load(path, map_location="cpu", weights_only=False)  # what pyiqa's loaders ask for
    assert not (tmp_path / "ran").exists() and "weights_only" not in str(err.value)


def test_a_cached_pyiqa_file_that_fails_the_hash_in_its_name_is_refused(registry, no_network, empty_caches, tmp_path):
    import pyiqa.utils.download_util

    folder = tmp_path / "hub" / "pyiqa"
    folder.mkdir(parents=True)
    torch.save({"w": torch.zeros(3)}, folder / "PieAPPv0.1-0937b014.pth")  # the right name, other content
    assert pyiqa.utils.download_util.DEFAULT_CACHE_DIR == str(folder)
    with pytest.raises(rdpkit.WeightsUnavailable, match="sha256 starts \\w+, not 0937b014 as its name says") as err:
        registry.create("distortion", "pyiqa-pieapp")
    assert str(err.value).endswith(".") and str(err.value).count(". ") == 0


def test_non_finite_weights_are_refused_when_the_metric_is_built(registry, monkeypatch):
    import pyiqa as real

    make = real.create_metric

    def poisoned(*args, **kwargs):
        metric = make(*args, **kwargs)
        metric.net.register_buffer("poison", torch.tensor([1.0, float("nan")]))
        return metric

    monkeypatch.setattr(real, "create_metric", poisoned)
    with pytest.raises(rdpkit.WeightsUnavailable, match="non-finite") as err:
        registry.create("distortion", "pyiqa-gmsd")
    assert "'poison'" in str(err.value)


def test_the_distribution_states_its_licence():
    # `rdpkit plugins` shows the licence the installed metadata states (reinstall after editing pyproject.toml).
    import importlib.metadata

    assert importlib.metadata.metadata("rdpkit-pyiqa").get("License-Expression") == "MIT"


def test_readme_states_pyiqas_licence_as_installed():
    import importlib.metadata
    from pathlib import Path

    licence = importlib.metadata.metadata("pyiqa").get("License-Expression")
    readme = (Path(catalog.__file__).parents[1] / "README.md").read_text()
    assert licence == "PolyForm-Noncommercial-1.0.0" and licence in readme and "noncommercial" in readme.lower()
