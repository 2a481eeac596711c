"""A short run of the decoder fuzzer (benchmarks/fuzz_decoders.py): every decoder refuses damaged input with its own error.

The long runs (100,000 inputs a target) are the script's; this one keeps CI honest with a few
hundred inputs a target (fewer for the slow ones), drawn from a fixed seed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_decoders.py"
INPUTS = 300
#: Targets whose inputs take tens of milliseconds (a store read as reports read it, a model loaded and used): fewer inputs.
FEWER = {"rows": 150, "models": 40}


@pytest.fixture(scope="module")
def fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_decoders", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def targets(fuzzer, tmp_path_factory):
    pytest.importorskip("rdpkit_gan_codec")
    pytest.importorskip("rdpkit_learned_codecs")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {t.name: t for t in fuzzer.build_targets(list(fuzzer.TARGETS), tmp_path_factory.mktemp("fuzz"))}
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["jpeg", "webp", "sq", "gan", "factorized", "hyperprior", "hific", "compressai-model", "bitstream", "store",
                                  "rows", "resultjson", "images", "models"])
def test_every_damaged_input_is_refused_with_rdpkits_own_error(fuzzer, targets, tmp_path, name):
    recorder = fuzzer.Recorder(tmp_path, keep=1)
    inputs = FEWER.get(name, INPUTS)
    stats = fuzzer.fuzz([targets[name]], inputs, seed=16, recorder=recorder, slow=1.0, timeout=20.0)[name]
    assert stats.inputs == inputs
    assert stats.findings == {}, fuzzer.report({name: stats}, recorder, stats.seconds)
    assert stats.slow == 0
    # The inputs are neither all refused at the door nor all harmless: some decode, some are refused.
    assert stats.accepted > 0 and sum(stats.refused.values()) > 0


def test_findings_are_counted_and_saved_with_their_input(fuzzer, tmp_path):
    def run(data: bytes) -> None:
        if data.startswith(b"x"):
            raise KeyError("boom")
        if data.startswith(b"y"):
            raise fuzzer.rdpkit.CorruptBitstream("refused.")

    inputs = iter([b"x1", b"y2", b"z3", b"x4"])
    target = fuzzer.Target("toy", [], lambda rng: next(inputs), run)
    stats = fuzzer.fuzz([target], 4, seed=0, recorder=fuzzer.Recorder(tmp_path, keep=5), timeout=None)["toy"]
    assert (stats.accepted, sum(stats.refused.values()), sum(stats.findings.values())) == (1, 1, 2)
    saved = sorted(p.read_bytes() for p in tmp_path.glob("toy-exception-*.bin"))
    assert saved == [b"x1", b"x4"]
    assert "KeyError: 'boom'" in next(tmp_path.glob("toy-exception-*.txt")).read_text()
