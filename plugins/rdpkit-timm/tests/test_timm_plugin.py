"""rdpkit-timm: the axioms on a random backbone, values against timm's own features, the
Hugging Face cache path, and the one-sentence failures."""

from __future__ import annotations


import pytest
import torch

import rdpkit
import rdpkit.testing as rt
from rdpkit_timm import plugin

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def registry():
    return rt.fresh_registry(plugin)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch, no_network):
    """An empty Hugging Face cache, and no network."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path / "hf"


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    return x, (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_random_backbone_obeys_the_axioms(registry):
    rt.check_distortion(registry.create("distortion", "timm", pretrained=False), size=32, max_examples=4)


def test_alpha_zero_is_the_mse(registry, pair):
    x, y = pair
    got = registry.create("distortion", "timm", pretrained=False, alpha=0.0)(x, y)
    torch.testing.assert_close(got, (x - y).pow(2).flatten(1).mean(1))


def test_value_is_eq_11_on_timms_own_features(registry, pair):
    x, y = pair
    d = registry.create("distortion", "timm", pretrained=False, layers=(0, 2), alpha=0.5, seed=4)
    torch.manual_seed(4)
    ref = timm.create_model("resnet18", pretrained=False, features_only=True, out_indices=(0, 2)).eval()
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        fx, fy = ref((x - mean) / std), ref((y - mean) / std)
    want = (x - y).pow(2).flatten(1).mean(1) + 0.5 * sum((a - b).pow(2).flatten(1).mean(1) for a, b in zip(fx, fy))
    torch.testing.assert_close(d(x, y), want, rtol=1e-5, atol=1e-6)


def test_gradient_reaches_the_image(registry, pair):
    x, y = pair
    y = y.clone().requires_grad_(True)
    registry.create("distortion", "timm", pretrained=False)(x, y).sum().backward()
    assert float(y.grad.abs().sum()) > 0


def test_cached_hub_weights_are_loaded_without_network(registry, hf_cache):
    from safetensors.torch import save_file

    torch.manual_seed(9)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    snapshot = hf_cache / "models--timm--resnet18.a1_in1k" / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (hf_cache / "models--timm--resnet18.a1_in1k" / "refs").mkdir()
    (hf_cache / "models--timm--resnet18.a1_in1k" / "refs" / "main").write_text("0123456789abcdef")
    save_file(state, str(snapshot / "model.safetensors"))
    d = registry.create("distortion", "timm")
    torch.testing.assert_close(d.model.conv1.weight, state["conv1.weight"])


def test_missing_weights_are_one_sentence(registry, hf_cache):
    with pytest.raises(rdpkit.WeightsUnavailable) as err:
        registry.create("distortion", "timm", backbone="resnet18")
    msg = str(err.value)
    assert "'model.safetensors'" in msg and "timm/resnet18.a1_in1k" in msg and str(hf_cache) in msg
    assert msg.endswith(".") and ". " not in msg


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"alpha": -1.0}, "alpha must be a finite number ≥ 0"),
        ({"backbone": "resnt18"}, "timm has no backbone 'resnt18'; did you mean 'resnet18'"),
        ({"layers": (1, 9)}, r"feature levels 0 to 4, got layers=\(1, 9\)"),
    ],
)
def test_bad_options_are_one_sentence(registry, options, match):
    with pytest.raises(rdpkit.InputError, match=match):
        registry.create("distortion", "timm", pretrained=False, **options)


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg.endswith(".") and ". " not in msg and "\n" not in msg, msg
    return msg


def _cache_file(hf_cache, name: str, content: bytes, blob: str | None = None):
    """Lay `content` out as the Hugging Face cache does: a blob named by its sha256, linked from a snapshot."""
    import hashlib

    repo = hf_cache / "models--timm--resnet18.a1_in1k"
    blob = blob or hashlib.sha256(content).hexdigest()
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "blobs" / blob).write_bytes(content)
    snapshot = repo / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text("0123456789abcdef")
    (snapshot / name).symlink_to(f"../../blobs/{blob}")


def _safetensors_bytes(state, tmp_path) -> bytes:
    from safetensors.torch import save_file

    save_file(state, str(tmp_path / "staged.safetensors"))
    return (tmp_path / "staged.safetensors").read_bytes()


def test_a_cached_file_that_fails_its_blob_sha256_is_refused(registry, hf_cache, tmp_path):
    torch.manual_seed(9)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    content = bytearray(_safetensors_bytes(state, tmp_path))
    import hashlib

    blob = hashlib.sha256(content).hexdigest()
    content[-1] ^= 0x01  # one flipped bit in the last weight: the file still parses
    _cache_file(hf_cache, "model.safetensors", bytes(content), blob=blob)
    with pytest.raises(rdpkit.WeightsUnavailable, match="sha256 starts \\w+, not \\w+ as its name says") as err:
        registry.create("distortion", "timm")
    _one_sentence(err)


def test_a_cached_file_with_non_finite_weights_is_refused(registry, hf_cache, tmp_path):
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    state["layer1.0.conv1.weight"][0, 0, 0, 0] = float("nan")
    _cache_file(hf_cache, "model.safetensors", _safetensors_bytes(state, tmp_path))
    with pytest.raises(rdpkit.WeightsUnavailable, match="non-finite") as err:
        registry.create("distortion", "timm")
    assert "layer1.0.conv1.weight" in _one_sentence(err)


def test_a_damaged_cached_file_is_one_sentence(registry, hf_cache):
    _cache_file(hf_cache, "model.safetensors", b"not safetensors at all")
    with pytest.raises(rdpkit.WeightsUnavailable, match="cannot be loaded") as err:
        registry.create("distortion", "timm")
    _one_sentence(err)


class _Payload:
    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_cached_pickle_with_code_is_refused_without_advising_the_unsafe_path(registry, hf_cache, tmp_path):
    import io

    buffer = io.BytesIO()
    torch.save({"conv1.weight": _Payload(tmp_path / "ran")}, buffer)
    _cache_file(hf_cache, "pytorch_model.bin", buffer.getvalue())
    with pytest.raises(rdpkit.WeightsUnavailable, match="does not unpickle") as err:
        registry.create("distortion", "timm")
    assert not (tmp_path / "ran").exists() and "weights_only" not in _one_sentence(err)


def test_the_distribution_states_its_licence():
    # `rdpkit plugins` shows the licence the installed metadata states (reinstall after editing pyproject.toml).
    import importlib.metadata

    assert importlib.metadata.metadata("rdpkit-timm").get("License-Expression") == "MIT"
