"""The interface axioms, over EVERY component in the default registry.

This includes whatever installed plugins register, so a plugin that breaks an axiom breaks
this suite. Components that need pretrained weights this machine does not have are skipped
with the registry's one-sentence reason; nothing else is.
"""

from __future__ import annotations

import pytest

import rdpkit
from rdpkit import testing

REGISTRY = rdpkit.get_registry()
# rdpkit's own components get the full search; plugins' (about a hundred, some slow) a
# shorter one here, since each plugin also runs these contract tests in its own suite.
EXAMPLES = {"rdpkit": 12}
PLUGIN_EXAMPLES = 4


def examples(kind: str, name: str) -> int:
    return EXAMPLES.get(REGISTRY.info(kind, name).distribution, PLUGIN_EXAMPLES)


def build(kind: str, name: str):
    try:
        return REGISTRY.create(kind, name)
    except (rdpkit.WeightsUnavailable, rdpkit.PluginUnavailable) as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", REGISTRY.names("distortion"))
def test_distortion_axioms(name):
    testing.check_distortion(build("distortion", name), max_examples=examples("distortion", name))


@pytest.mark.parametrize("name", REGISTRY.names("critic"))
def test_critic_axioms(name):
    testing.check_critic(build("critic", name), max_examples=min(8, examples("critic", name)))


@pytest.mark.parametrize("name", REGISTRY.names("divergence"))
def test_divergence_axioms(name):
    testing.check_divergence(build("divergence", name))


@pytest.mark.parametrize("name", REGISTRY.names("codec"))
def test_codec_axioms(name):
    # Learnable codecs train as briefly as they declare: the axioms concern coding, not how well it compresses.
    codec = build("codec", name)
    testing.check_codec(codec)


@pytest.mark.parametrize("name", REGISTRY.names("features"))
def test_feature_extractor_axioms(name):
    testing.check_features(build("features", name))


def test_every_plugin_loaded():
    broken = [f"{r.name} ({r.distribution}): {r.error}" for r in REGISTRY.plugins if r.status == "failed"]
    assert not broken, f"plugins failed to load: {broken}"
