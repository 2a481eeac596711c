"""Each contract check of rdpkit.testing catches its mutant, which the contracts before issue 24 passed.

`OLD` is the contract module as it was (tests/data/contracts_before_24.py): every mutant here is
shown to pass it, so each test proves that the check it exercises is new, and needed.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
import zlib
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from click.testing import CliRunner

import rdpkit
import rdpkit.testing as rt
from rdpkit.bitstream import Bitstream
from rdpkit.errors import CorruptBitstream
from rdpkit.interfaces import Codec, Distortion, Divergence, Estimate, FeatureExtractor
from rdpkit.spec import Info

_spec = importlib.util.spec_from_file_location("contracts_before_24", Path(__file__).parent / "data" / "contracts_before_24.py")
OLD = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(OLD)


# ---------------------------------------------------------------- codecs


class Quantiser(Codec):
    """An honest 8-level scalar quantiser, zlib-packed: the base of the cheats below."""

    rate_settings: ClassVar = {"levels": (2, 8, 64)}

    def __init__(self, levels: int = 8) -> None:
        self.levels = levels

    def _encode(self, x):
        q = torch.round(x.double().clamp(0, 1) * (self.levels - 1)).to(torch.uint8)
        return Bitstream(self.codec_name, tuple(x.shape), zlib.compress(q.numpy().tobytes()), {"levels": self.levels, "dtype": str(x.dtype)})

    def _decode(self, bits, seed):
        try:
            data = zlib.decompress(bits.payload)
        except zlib.error as exc:
            raise CorruptBitstream(f"the payload does not inflate ({exc}); re-encode.") from None
        if len(data) != torch.Size(bits.shape).numel():
            raise CorruptBitstream("the payload holds the wrong number of values; re-encode.")
        q = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(bits.shape)
        return (q.double() / (bits.header["levels"] - 1)).to(getattr(torch, bits.header["dtype"].split(".")[-1]))


class ConstantDecoder(Quantiser):
    """Real bytes, but decode returns mid-grey whatever they say."""

    def _decode(self, bits, seed):
        super()._decode(bits, seed)  # refuses what the container refuses
        return torch.full(bits.shape, 0.5, dtype=getattr(torch, bits.header["dtype"].split(".")[-1]))


class OneByteStash(Codec):
    """Sends one byte and keeps the images in the object between encode and decode."""

    def __init__(self) -> None:
        self.kept = None

    def _encode(self, x):
        self.kept = x.clone()
        return Bitstream(self.codec_name, tuple(x.shape), b"\x01")

    def _decode(self, bits, seed):
        if bits.payload != b"\x01":
            raise CorruptBitstream("not my byte")
        return self.kept.clone() if self.kept is not None else torch.zeros(bits.shape)


class TicketStash(Codec):
    """Sends a ticket number; the images wait in the instance under it (different bytes for different images)."""

    def __init__(self) -> None:
        self.kept: dict[int, torch.Tensor] = {}

    def _encode(self, x):
        ticket = len(self.kept) + 1
        self.kept[ticket] = x.clone()
        return Bitstream(self.codec_name, tuple(x.shape), ticket.to_bytes(4, "big"), {"dtype": str(x.dtype)})

    def _decode(self, bits, seed):
        kept = self.kept.get(int.from_bytes(bits.payload, "big"))
        return kept.clone() if kept is not None else torch.zeros(bits.shape, dtype=getattr(torch, bits.header["dtype"].split(".")[-1]))


_CLOAKROOM: dict[int, torch.Tensor] = {}


class ModuleStash(TicketStash):
    """The ticket cheat with the images in a module global: fresh instances in this process see them."""

    def _encode(self, x):
        ticket = len(_CLOAKROOM) + 1
        _CLOAKROOM[ticket] = x.clone()
        return Bitstream(self.codec_name, tuple(x.shape), ticket.to_bytes(4, "big"), {"dtype": str(x.dtype)})

    def _decode(self, bits, seed):
        kept = _CLOAKROOM.get(int.from_bytes(bits.payload, "big"))
        return kept.clone() if kept is not None else torch.zeros(bits.shape, dtype=getattr(torch, bits.header["dtype"].split(".")[-1]))


class HeaderCarrier(Quantiser):
    """The images travel in the header; the payload is padding the decoder never reads."""

    def _encode(self, x):
        bits = super()._encode(x)
        return Bitstream(self.codec_name, bits.shape, b"\x00" * 16, {**bits.header, "data": bits.payload.hex()})

    def _decode(self, bits, seed):
        return super()._decode(Bitstream(bits.codec, bits.shape, bytes.fromhex(bits.header["data"]), bits.header), seed)


class Padded(Quantiser):
    """Its rate option only pads the payload: more bits, the same images."""

    rate_settings: ClassVar = {"pad": (0, 1000, 4000)}

    def __init__(self, levels: int = 8, pad: int = 0) -> None:
        super().__init__(levels)
        self.pad = pad

    def _encode(self, x):
        bits = super()._encode(x)
        return Bitstream(self.codec_name, bits.shape, bits.payload, {**bits.header, "pad": "0" * self.pad})


CODEC_MUTANTS = [
    (ConstantDecoder, "two batches with different bytes gave the same decoded images"),
    (OneByteStash, "decodes them differently from a fresh instance"),
    (TicketStash, "decodes them differently from a fresh instance"),
    (ModuleStash, "another process decodes the same bytes differently"),
    (HeaderCarrier, "left the decoded images unchanged"),
    (Padded, "distortion does not fall as the rate rises"),
]


@pytest.mark.parametrize(("mutant", "message"), CODEC_MUTANTS, ids=[m.__name__ for m, _ in CODEC_MUTANTS])
def test_a_cheating_codec_is_caught(mutant, message):
    OLD.check_codec(mutant())  # the contract before issue 24 passed it
    start = time.perf_counter()
    with pytest.raises(AssertionError, match=message):
        rt.check_codec(mutant())
    assert time.perf_counter() - start < 60


def test_the_honest_quantiser_passes_every_part():
    with warnings.catch_warnings():
        warnings.simplefilter("error", rt.ContractSkip)
        rt.check_codec(Quantiser())


def test_a_codec_without_rate_settings_says_the_part_was_skipped(astronaut64):
    # lossless WebP has no rate knob (quality trades effort for size), so it declares none
    assert rdpkit.codec("webp", lossless=True).rate_settings is None
    with pytest.warns(rt.ContractSkip, match="declares no rate_settings"):
        rt.check_codec(rdpkit.codec("webp", lossless=True), astronaut64, other_process=False)


@pytest.mark.parametrize(("name", "declared"), [("jpeg", [{"quality": q} for q in (10, 50, 90)]), ("webp", [{"quality": q} for q in (10, 50, 90)]),
                                                ("sq", [{"levels": n} for n in (4, 16, 64)])])
def test_the_builtin_codecs_declare_their_rate_knob_and_pass_over_it(rdpkit_registry, astronaut64, name, declared):
    codec = rdpkit_registry.create("codec", name)
    assert rt._rate_settings(codec, None) == declared
    with warnings.catch_warnings():
        warnings.simplefilter("error", rt.ContractSkip)
        rt.check_codec(codec, astronaut64.repeat(2, 1, 1, 1))


def test_rate_settings_are_read_as_one_option_several_zipped_or_a_list():
    c = Quantiser()
    assert rt._rate_settings(c, None) == [{"levels": 2}, {"levels": 8}, {"levels": 64}]
    assert rt._rate_settings(c, {"dim": (2, 4), "levels": (3, 5)}) == [{"dim": 2, "levels": 3}, {"dim": 4, "levels": 5}]
    assert rt._rate_settings(c, [{"quality": 1}, {"quality": 2}]) == [{"quality": 1}, {"quality": 2}]
    assert rt._sibling(Padded(levels=4), {"pad": 7}).levels == 4  # the other options are kept


# ---------------------------------------------------------------- divergences


class MeanGap(Divergence):
    """The distance between the means of the features: blind to everything else."""

    quantity = "mean gap"

    def _estimate(self, p, q):
        return Estimate(float((p.double().mean(0) - q.double().mean(0)).norm()), 0.01, len(p), self.quantity)


def test_a_divergence_that_sees_only_means_is_caught():
    OLD.check_divergence(MeanGap())  # the single-draw check passed it by chance
    with pytest.raises(AssertionError, match="times the spread, same mean.*one that sees only means fails"):
        rt.check_divergence(MeanGap())


def test_the_stated_power_holds_on_fresh_seeds():
    """Over 200 other seeds, the mean gap wins a draw about as often as the docstring says (≤ 0.36), a real divergence almost always."""
    mean_wins = w1_wins = 0
    w1 = rdpkit.divergence("wasserstein-exact")
    for i in range(200):
        g = torch.Generator().manual_seed(10_000 + i)
        p, p2 = torch.randn(200, 4, generator=g), torch.randn(200, 4, generator=g)
        v = torch.randn(100, 4, generator=g) * 3
        q = torch.cat([v, -v])
        mean_wins += MeanGap().estimate(p, q).value > MeanGap().estimate(p, p2).value
        if i < 20:
            w1_wins += w1.estimate(p, q).value > w1.estimate(p, p2).value
    assert mean_wins / 200 < 0.45 and w1_wins == 20


# ---------------------------------------------------------------- feature extractors


class Unlabelled(FeatureExtractor):
    """Features whose author forgot feature_kind."""

    def _features(self, x):
        return x.mean((2, 3))


def test_a_feature_extractor_without_feature_kind_is_unknown_and_caught():
    assert Unlabelled.feature_kind == "unknown"  # before issue 24: "pretrained", and every report said so
    with pytest.raises(AssertionError, match="feature_kind is 'unknown'.*set the class attribute"):
        rt.check_features(Unlabelled(), max_examples=2)


def test_list_features_json_carries_the_kind():
    from rdpkit.cli import cli

    result = CliRunner().invoke(cli, ["list", "features", "--json"])
    assert result.exit_code == 0, result.output
    import json

    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert rows and all("feature_kind" in r for r in rows)
    assert {r["name"]: r["feature_kind"] for r in rows}["nss"] == "hand-crafted"


# ---------------------------------------------------------------- distortions


class Detached(Distortion):
    """Says differentiable, returns a tensor cut from the graph."""

    def _distance(self, x, x_hat):
        return (x - x_hat).pow(2).flatten(1).mean(1).detach()


def _differentiable(d: Distortion) -> Distortion:
    d.info = Info("distortion", "detached", "", True, False, "", "cpu", "", "test", "test", "0")
    return d


def test_a_detached_differentiable_distortion_fails_with_a_sentence():
    with pytest.raises(RuntimeError):  # before issue 24: torch's own error, from inside hypothesis
        OLD.check_distortion(_differentiable(Detached()), max_examples=2)
    start = time.perf_counter()
    with pytest.raises(AssertionError, match="says differentiable, but Δ\\(x, x̂\\) is detached"):
        rt.check_distortion(_differentiable(Detached()), max_examples=12)
    assert time.perf_counter() - start < 30  # no shrinking


def test_a_failing_check_stops_at_its_examples():
    """A failure costs at most max_examples runs of the component: no shrinking phase."""
    calls = []

    class Negative(Distortion):
        def _distance(self, x, x_hat):
            calls.append(1)
            return (x - x_hat).abs().flatten(1).mean(1) - 1.0

    with pytest.raises(AssertionError, match="is not 0"):
        rt.check_distortion(Negative(), max_examples=12)
    assert len(calls) <= 3 * 12


def test_a_shipped_learned_codec_passes_over_its_qualities():
    """The rate part as the learned codecs declare it: a shipped model, over its five qualities."""
    if "factorized" not in rdpkit.get_registry().names("codec"):
        pytest.skip("rdpkit-learned-codecs is not installed here")
    codec = rdpkit.codec("factorized")
    assert rt._rate_settings(codec, None) == [{"quality": q} for q in range(1, 6)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", rt.ContractSkip)
        rt.check_codec(codec)
