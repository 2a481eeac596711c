"""inception-v3-fid: registered, offline refusals in one sentence, and the contract on a weights file built here."""

from __future__ import annotations

import pytest
import torch
from rdpkit_fidelity import inception, plugin

import rdpkit
import rdpkit.testing as rt


@pytest.fixture
def registry(rdpkit_registry):
    rdpkit_registry.register(plugin, distribution="rdpkit-fidelity")
    return rdpkit_registry


def test_registered_as_a_pretrained_feature_extractor(registry):
    info = registry.info("features", "inception-v3-fid")
    assert info.needs_weights and "weights-inception-2015-12-05-6726825d.pth" in info.weights


def test_missing_weights_are_one_sentence_without_the_network(registry, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(rdpkit.WeightsUnavailable, match="needs the weights file weights-inception-2015-12-05-6726825d.pth, which is not in"):
        registry.create("features", "inception-v3-fid")


def test_a_file_that_is_not_the_published_one_is_refused(registry, tmp_path):
    fake = tmp_path / inception.WEIGHTS
    torch.save({"w": torch.zeros(2)}, fake)
    with pytest.raises(rdpkit.WeightsUnavailable, match="not 6726825d as its name says"):
        registry.create("features", "inception-v3-fid", weights=str(fake))
    with pytest.raises(rdpkit.InputError, match="is a folder"):
        registry.create("features", "inception-v3-fid", weights=str(tmp_path))


def test_with_weights_of_the_right_shapes_the_contract_holds(registry, tmp_path):
    pytest.importorskip("torch_fidelity")
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    # The published file cannot be downloaded here: random weights of the same architecture stand in, in a
    # file whose name carries no hash. What is tested is the plumbing: 8-bit input, 2048 features.
    shapes = {}
    with torch.no_grad(), pytest.MonkeyPatch.context() as m:
        m.setattr(torch.nn.Module, "load_state_dict", lambda self, state, *a, **k: shapes.update({k2: v.shape for k2, v in self.state_dict().items()}))
        FeatureExtractorInceptionV3("probe", ["2048"], feature_extractor_weights_path=str(_save_any(tmp_path)))
    g = torch.Generator().manual_seed(0)
    state = {k: torch.ones(s) if k.endswith("running_var") else torch.randn(s, generator=g) * 0.05 if len(s) else torch.zeros(s) for k, s in shapes.items()}
    path = tmp_path / "inception-random.pth"
    torch.save(state, path)
    f = registry.create("features", "inception-v3-fid", weights=str(path))
    assert f.features(torch.rand(2, 3, 64, 64, generator=g)).shape == (2, 2048)
    rt.check_features(f, max_examples=2)


def _save_any(folder):
    path = folder / "any.pth"
    torch.save({}, path)
    return path
