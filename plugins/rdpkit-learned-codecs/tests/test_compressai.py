"""CompressAI's checkpoints: the name mapping against CompressAI's own parameter list (data/compressai_params.json,
written by scripts/compressai_param_names.py from CompressAI 1.2.8), and loading without the network."""

from __future__ import annotations

import pytest
import torch
from rdpkit_learned_codecs.codecs.transform import FactorizedCodec, HyperpriorCodec
from rdpkit_learned_codecs.models import compressai
from rdpkit_learned_codecs.models.config import COMPRESSAI_LAMBDAS
from rdpkit_learned_codecs.networks.codec_model import CodecModel

from rdpkit.errors import InputError, WeightsUnavailable

KINDS = {"bmshj2018-factorized": ("factorized", False), "bmshj2018-hyperprior": ("hyperprior", False), "mbt2018-mean": ("hyperprior", True)}
CASES = [(arch, q) for arch in KINDS for q in range(1, 9)]


def _fake_state(arch: str, quality: int, generation: str = "current") -> dict[str, torch.Tensor]:
    """A state dict with CompressAI's names and shapes (random values); CDF buffers get a token shape."""
    entry = compressai.names()["architectures"][arch][str(quality)]
    state = {}
    for name, shape in entry["state_dict"].items():
        t = torch.rand(shape) if shape is not None else torch.zeros(3, dtype=torch.int32)
        if generation != "current" and name.startswith("entropy_bottleneck.") and name.split(".")[1] in ("matrices", "biases", "factors"):
            group, index = name.split(".")[1:]
            singular = {"matrices": "matrix", "biases": "bias", "factors": "factor"}[group]
            name = {"legacy": f"entropy_bottleneck._{group}.{index}", "1.1": f"entropy_bottleneck._{singular}{index}"}[generation]
        state[name] = t
    return state


def test_the_committed_list_covers_every_quality():
    arch = compressai.names()["architectures"]
    assert sorted(arch) == sorted(KINDS) and all(sorted(map(int, q)) == list(range(1, 9)) for q in arch.values())


@pytest.mark.parametrize("arch, quality", CASES)
def test_every_compressai_parameter_maps_onto_a_model_of_the_same_shapes(arch, quality):
    kind, mean = KINDS[arch]
    entry = compressai.names()["architectures"][arch][str(quality)]
    mapped = compressai.map_state(_fake_state(arch, quality), kind)
    config = compressai.config_of(mapped, kind, COMPRESSAI_LAMBDAS[quality - 1])
    assert (config.channels, config.latent_channels, config.mean) == (entry["N"], entry["M"], mean)
    model = CodecModel(config)
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items() if "table_" not in k}
    assert {k: tuple(v.shape) for k, v in mapped.items()} == mine  # every rdpkit weight, with CompressAI's shape, and nothing else


@pytest.mark.parametrize("generation", ["legacy", "1.1"])
def test_older_entropy_bottleneck_names_map_too(generation):
    legacy = compressai.map_state(_fake_state("bmshj2018-hyperprior", 1, generation), "hyperprior")
    current = compressai.map_state(_fake_state("bmshj2018-hyperprior", 1), "hyperprior")
    assert legacy.keys() == current.keys()


def test_a_compressai_file_codes_like_any_model(tmp_path, photo):
    torch.manual_seed(0)
    state = _fake_state("bmshj2018-factorized", 1)
    state = {k: (v * 0.01 if v.is_floating_point() else v) for k, v in state.items()}
    path = tmp_path / "my-factorized.pth.tar"
    torch.save({"state_dict": state, "epoch": 3}, path)
    codec = FactorizedCodec(weights=str(path))
    assert codec.fitted and not codec.learnable and codec.config.channels == 128
    x_hat = codec.decode(codec.encode(photo).to_bytes())
    assert x_hat.shape == photo.shape


def test_missing_zoo_file_names_it_and_the_folder_without_the_network(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailable) as info:
        HyperpriorCodec(weights="compressai", quality=3, mean=True)
    message = str(info.value)
    assert "mbt2018-mean-3-723404a8.pth.tar" in message and str(tmp_path / "hub" / "checkpoints") in message


def test_zoo_file_in_the_hub_cache_is_found_and_checked_against_its_name(tmp_path, monkeypatch, no_network, photo):
    from rdpkit.weights import sha256

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    state = {k: (v * 0.01 if v.is_floating_point() else v) for k, v in _fake_state("bmshj2018-hyperprior", 2).items()}
    staged = tmp_path / "staged.pth.tar"
    torch.save(state, staged)
    # The zoo names files by their sha256's first 8 digits: these random weights get their own.
    listed = compressai.names()
    entry = listed["architectures"]["bmshj2018-hyperprior"]["2"]
    name = f"bmshj2018-hyperprior-2-{sha256(staged)[:8]}.pth.tar"
    patched = {**listed, "architectures": {**listed["architectures"], "bmshj2018-hyperprior": {"2": {**entry, "file": name}}}}
    monkeypatch.setattr(compressai, "names", lambda: patched)
    staged.rename(folder / name)
    codec = HyperpriorCodec(weights="compressai", quality=2)
    assert codec.config.lams == (COMPRESSAI_LAMBDAS[1],) and codec.source.startswith("compressai:")
    assert codec.decode(codec.encode(photo).to_bytes()).shape == photo.shape
    monkeypatch.setattr(compressai, "names", lambda: {**listed})
    (folder / name).rename(folder / entry["file"])  # the real zoo name, the wrong content
    with pytest.raises(WeightsUnavailable, match="damaged or was replaced"):
        HyperpriorCodec(weights="compressai", quality=2)


def test_other_architectures_and_pickles_are_refused(tmp_path):
    with pytest.raises(InputError, match="another architecture"):
        compressai.map_state(_fake_state("bmshj2018-hyperprior", 1), "factorized")
    path = tmp_path / "pickled.pth"
    torch.save({"state_dict": {"g_a.0.weight": torch.zeros(1)}, "note": object.__new__(_Opaque)}, path)
    with pytest.raises(WeightsUnavailable, match="besides tensors"):
        compressai.read(path)
    nan = tmp_path / "nan.pth"
    torch.save({"g_a.0.weight": torch.full((2,), float("nan"))}, nan)
    with pytest.raises(WeightsUnavailable, match="non-finite"):
        compressai.read(nan)


class _Opaque:
    pass
