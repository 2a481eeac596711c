"""rdpkit-lpips: the axioms on random backbones, values equal to the lpips package's own,
the cached-weights path, and the one-sentence failure when the backbone is missing."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

import rdpkit
import rdpkit.testing as rt
from rdpkit_lpips import metric, plugin

lpips = pytest.importorskip("lpips")

NETS = ["alex", "vgg", "squeeze"]
# The reference lpips.LPIPS still passes torchvision's deprecated `pretrained=` argument.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def registry():
    return rt.fresh_registry(plugin)


@pytest.fixture
def hub(tmp_path, monkeypatch, no_network):
    """An empty torch hub cache, and no network: whatever the machine holds, nothing can be fetched."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_three_backbones_are_registered_without_shadowing_the_core(registry):
    names = registry.names("distortion")
    assert {"lpips-alex", "lpips-vgg", "lpips-squeeze", "ssim", "mse"} <= set(names)
    info = registry.info("distortion", "lpips-vgg")
    assert info.differentiable and info.needs_weights and "torch hub" in info.weights


@pytest.mark.parametrize("net", NETS)
def test_random_backbone_obeys_the_axioms(registry, net):
    d = registry.create("distortion", f"lpips-{net}", pretrained=False)
    rt.check_distortion(d, size=32, max_examples=2 if net == "vgg" else 3, dtypes=("float32",))


@pytest.mark.parametrize("net", NETS)
def test_values_equal_the_lpips_package(registry, net):
    x = torch.rand(3, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    ours = registry.create("distortion", f"lpips-{net}", pretrained=False, seed=7)
    torch.manual_seed(7)
    ref = lpips.LPIPS(net=net, pnet_rand=True, verbose=False).eval()
    with torch.no_grad():
        want = ref(2 * x - 1, 2 * y - 1).flatten()
    torch.testing.assert_close(ours(x, y), want, rtol=1e-5, atol=1e-6)


def test_seed_makes_the_random_backbone_reproducible(registry):
    x, y = torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a, b, c = (registry.create("distortion", "lpips-alex", pretrained=False, seed=s) for s in (0, 0, 1))
    assert torch.equal(a(x, y), b(x, y)) and not torch.equal(a(x, y), c(x, y))


def test_gradient_reaches_the_image_but_not_the_weights(registry):
    d = registry.create("distortion", "lpips-squeeze", pretrained=False)
    x = torch.rand(1, 3, 32, 32)
    y = torch.rand(1, 3, 32, 32, requires_grad=True)
    d(x, y).sum().backward()
    assert float(y.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in d.parameters())


@pytest.mark.parametrize("net", NETS)
def test_missing_backbone_is_one_sentence_naming_file_and_folder(registry, hub, net):
    with pytest.raises(rdpkit.WeightsUnavailable) as err:
        registry.create("distortion", f"lpips-{net}")
    msg = str(err.value)
    assert repr(os.path.basename(metric.backbone_file(net))) in msg and str(hub / "checkpoints") in msg
    assert msg.startswith(f"lpips-{net} needs") and msg.endswith(".") and ". " not in msg


def _cache_backbone(hub, monkeypatch, state) -> str:
    """Put `state` where torchvision caches AlexNet's ImageNet weights, under a name carrying its own sha256 prefix.

    The published file's name carries the published file's prefix (alexnet-owt-7be5be79.pth),
    so a stand-in state dict needs a URL of its own for the plugin to accept it.
    """
    os.makedirs(hub / "checkpoints", exist_ok=True)
    staged = hub / "staged.pth"
    torch.save(state, staged)
    prefix = hashlib.sha256(staged.read_bytes()).hexdigest()[:8]
    monkeypatch.setattr(metric, "backbone_url", lambda net: f"https://download.pytorch.org/models/alexnet-owt-{prefix}.pth")
    os.replace(staged, metric.backbone_file("alex"))
    return metric.backbone_file("alex")


def test_cached_backbone_is_loaded_from_the_hub_folder(registry, hub, monkeypatch):
    # A (random) AlexNet state dict where torchvision caches ImageNet weights: creating the
    # metric must load it from there, without a download, and use it.
    from torchvision.models import alexnet

    torch.manual_seed(3)
    state = alexnet().state_dict()
    _cache_backbone(hub, monkeypatch, state)
    d = registry.create("distortion", "lpips-alex")
    conv1 = d.model.net.slice1[0].weight
    torch.testing.assert_close(conv1, state["features.0.weight"])
    torch.testing.assert_close(d.model.net.state_dict()["slice5.10.bias"], state["features.10.bias"])


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg.endswith(".") and ". " not in msg and "\n" not in msg, msg
    return msg


def test_a_cached_backbone_that_fails_the_hash_in_its_name_is_refused(registry, hub):
    from torchvision.models import alexnet

    os.makedirs(hub / "checkpoints")
    torch.save(alexnet().state_dict(), metric.backbone_file("alex"))  # the published name, other content
    with pytest.raises(rdpkit.WeightsUnavailable, match="not 7be5be79 as its name says") as err:
        registry.create("distortion", "lpips-alex")
    _one_sentence(err)


def test_a_backbone_with_non_finite_weights_is_refused(registry, hub, monkeypatch):
    from torchvision.models import alexnet

    state = alexnet().state_dict()
    state["features.3.weight"][0, 0, 0, 0] = float("nan")
    _cache_backbone(hub, monkeypatch, state)
    with pytest.raises(rdpkit.WeightsUnavailable, match="non-finite .*'features.3.weight'") as err:
        registry.create("distortion", "lpips-alex")
    _one_sentence(err)


class _Payload:
    """Creates a file when unpickled: proof that the file's code ran."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_backbone_holding_pickled_objects_is_not_unpickled(registry, hub, monkeypatch, tmp_path):
    _cache_backbone(hub, monkeypatch, {"features.0.weight": _Payload(tmp_path / "ran")})
    with pytest.raises(rdpkit.WeightsUnavailable, match="does not unpickle") as err:
        registry.create("distortion", "lpips-alex")
    assert not (tmp_path / "ran").exists() and "weights_only" not in _one_sentence(err)


def test_a_backbone_of_another_architecture_is_one_sentence(registry, hub, monkeypatch):
    from torchvision.models import vgg16

    _cache_backbone(hub, monkeypatch, {k: v for k, v in vgg16().state_dict().items() if k.startswith("features.")})
    with pytest.raises(rdpkit.WeightsUnavailable, match="is not AlexNet's ImageNet weights") as err:
        registry.create("distortion", "lpips-alex")
    _one_sentence(err)


def test_linear_layers_are_checked_against_their_sha256(registry, monkeypatch):
    monkeypatch.setitem(metric.LINEAR_SHA256, "squeeze", "0" * 64)
    with pytest.raises(rdpkit.WeightsUnavailable, match="squeeze.pth.*sha256") as err:
        registry.create("distortion", "lpips-squeeze", pretrained=False)
    _one_sentence(err)


def test_images_that_are_neither_rgb_nor_grey_are_one_sentence(registry):
    d = registry.create("distortion", "lpips-squeeze", pretrained=False)
    for channels in (2, 4):
        x = torch.rand(1, channels, 32, 32)
        with pytest.raises(rdpkit.InputError, match=f"takes RGB images.*got {channels}") as err:
            d(x, x)
        assert "alpha" in _one_sentence(err) if channels == 4 else True
    x, y = torch.rand(2, 1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(d(x, y), d(x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)))


def test_small_images_are_refused_with_the_size_needed(registry):
    x = torch.rand(1, 3, 24, 24)
    with pytest.raises(rdpkit.InputError, match="needs at least 31×31"):
        registry.create("distortion", "lpips-alex", pretrained=False)(x, x)


def test_the_distribution_states_its_licence():
    # `rdpkit plugins` shows the licence the installed metadata states (reinstall after editing pyproject.toml).
    import importlib.metadata

    assert importlib.metadata.metadata("rdpkit-lpips").get("License-Expression") == "MIT"
