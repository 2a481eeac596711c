"""Small hostile inputs cannot cost large amounts of time or memory (issue 23, item 9; item 16's scale_table).

Every size a model file or a bitstream header announces is bounded, before anything is built
or allocated, by what the file or payload can hold, by the architecture, and by `max_pixels`
(rdpkit.bitstream.MAX_PIXELS by default, sized for a 24 GB machine). The hostile inputs are
built from the shipped models; each test proves the refusal comes first (the expensive step
is replaced by one that fails the test, or allocations are counted), so none of them costs
what it would have.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from rdpkit_learned_codecs.codecs import transform
from rdpkit_learned_codecs.codecs.adapter import CompressAIProtocolCodec
from rdpkit_learned_codecs.entropy.factorized_prior import FactorizedDensity
from rdpkit_learned_codecs.entropy.gaussian import GaussianConditional
from rdpkit_learned_codecs.models.storage import load_model, save_model
from rdpkit_learned_codecs.models.zoo import shipped

import rdpkit
from rdpkit.bitstream import MAX_PIXELS, Bitstream
from rdpkit.codecs.entropy import RangeReader
from rdpkit.errors import CorruptBitstream, InputError

# -- model files: table shapes against the architecture, before any table is built ------------------------------


@pytest.fixture
def no_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a table fails the test: refusals must come before it."""
    def built(self):
        raise AssertionError(f"{type(self).__name__} built its tables before the file was refused")

    monkeypatch.setattr(FactorizedDensity, "tables", built)
    monkeypatch.setattr(GaussianConditional, "tables", built)


def _shipped_hyperprior_with(tmp_path: Path, **changes: torch.Tensor) -> str:
    """The shipped hyperprior saved again with some tensors replaced (and a record, so it loads as a genuine file)."""
    path, digest = shipped("hyperprior")
    config, state = load_model(path, digest)
    out = tmp_path / "model.safetensors"
    save_model(out, config, {**state, **changes}, {"saved_by": "test_resource_bounds"}, half=True)
    return str(out)


def test_a_scale_table_longer_than_the_architecture_is_refused_before_any_table_is_built(tmp_path, no_tables):
    # 80 kB more than the shipped file: 11 s and +330 MB (up to 3.7 GB) before the fix, refused at once after it.
    longer = torch.exp(torch.linspace(np.log(0.11), np.log(256.0), 20_000))
    path = _shipped_hyperprior_with(tmp_path, **{"conditional.scale_table": longer})
    with pytest.raises(InputError, match=r"does not hold the weights its configuration describes \(conditional.scale_table has shape \(64,\), the file holds \(20000,\)\)"):
        rdpkit.codec("hyperprior", weights=path)


@pytest.mark.parametrize(("scale_table", "match"), [
    (torch.ones(8, 8), r"conditional.scale_table has shape \(64,\), the file holds \(8, 8\)"),  # the plugin's TypeError before the fix
    (torch.tensor(1.0), r"conditional.scale_table has shape \(64,\), the file holds \(\)"),
    (torch.linspace(0.0, 256.0, 64), "scale_table holds scales that are not positive"),
    (-torch.linspace(0.11, 256.0, 64), "scale_table holds scales that are not positive"),
])
def test_a_scale_table_of_the_wrong_shape_or_values_is_one_sentence(tmp_path, no_tables, scale_table, match):
    path = _shipped_hyperprior_with(tmp_path, **{"conditional.scale_table": scale_table})
    with pytest.raises(InputError, match=match) as info:
        rdpkit.codec("hyperprior", weights=path)
    assert str(info.value).endswith(".") and ". " not in str(info.value)


def test_a_configuration_larger_than_its_file_is_refused_before_the_model_is_built(tmp_path, monkeypatch):
    # A file of the shipped factorized weights announcing 1024 channels: the model was built first (1.3 GB, 3 s), then refused.
    built = []

    class Recording(transform.CodecModel):
        def __init__(self, config) -> None:
            super().__init__(config)
            built.append(next(self.parameters()).device.type)

    monkeypatch.setattr(transform, "CodecModel", Recording)
    path, digest = shipped("factorized")
    config, state = load_model(path, digest)
    out = tmp_path / "model.safetensors"
    save_model(out, replace(config, channels=1024, latent_channels=1024), state, {"saved_by": "test_resource_bounds"}, half=True)
    with pytest.raises(InputError, match=r"does not hold the weights its configuration describes \(gain has shape \(5, 1024\), the file holds \(5, 96\)\)"):
        rdpkit.codec("factorized", weights=str(out))
    assert built == ["meta"]


def test_stored_tables_that_do_not_fit_the_architecture_are_refused_before_any_table_is_built(tmp_path, no_tables):
    path, digest = shipped("hyperprior")
    _, state = load_model(path, digest)
    sizes, lows, freqs = (state[f"hyperprior.table_{name}"] for name in ("sizes", "lows", "freqs"))
    cases = [
        {"hyperprior.table_sizes": torch.cat([sizes, sizes[:1]]), "hyperprior.table_lows": torch.cat([lows, lows[:1]])},  # one table too many
        {"hyperprior.table_sizes": sizes * 100},  # sizes beyond the frequencies (and beyond MAX_VALUES)
        {"hyperprior.table_freqs": torch.cat([freqs, freqs])},  # frequencies beyond the sizes
        {"conditional.table_sizes": torch.full((20_000,), 2, dtype=torch.int32)},
    ]
    for change in cases:
        with pytest.raises(InputError, match="does not hold the tables its configuration describes"):
            rdpkit.codec("hyperprior", weights=_shipped_hyperprior_with(tmp_path, **change))


# -- bitstreams: max_pixels, and what the payload can hold -------------------------------------------------------


def _forged(codec, shape: tuple[int, int, int, int], payload: bytes | None = None) -> bytes:
    """A bitstream of `codec` (its genuine header) announcing `shape`, with the genuine payload of a small image or `payload`."""
    bits = codec.encode(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    return Bitstream(bits.codec, shape, bits.payload if payload is None else payload, bits.header).to_bytes()


@pytest.fixture
def nothing_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding a symbol fails the test: refusals must come before it."""
    def decoded(self, model, probabilities):
        raise AssertionError("symbols were decoded before the bitstream was refused")

    monkeypatch.setattr(RangeReader, "read", decoded)


@pytest.mark.parametrize("kind", ["factorized", "hyperprior", "hific"])
def test_the_default_max_pixels_fits_a_24_gb_machine_and_is_stated(kind, nothing_decoded):
    # Decoding peaks at about 270-300 bytes a pixel for all three (1.1 GB at 2048×2048): 2**24 pixels stay near 5 GB, where
    # the old default, 2**26 (8192×8192), let a valid 93 kB bitstream take 26 s and +3.5 GB, and would need 15-20 GB.
    codec = rdpkit.codec(kind)
    assert codec.max_pixels == MAX_PIXELS == 1 << 24
    with pytest.raises(CorruptBitstream, match=r"1×8192×8192 pixels \(67,108,864\), more than this codec decodes \(max_pixels=16,777,216; the default 16,777,216 keeps a learned decoder near 5 GB\); .* a larger max_pixels\."):
        codec.decode(_forged(codec, (1, 3, 8192, 8192)))
    # Padding counts: 4097×4097 is padded to 4160×4160 (hyperprior) or 4112×4112 (factorized), more than 2**24.
    with pytest.raises(CorruptBitstream, match="once padded to a multiple of"):
        codec.decode(_forged(codec, (1, 3, 4097, 4097)))


@pytest.mark.parametrize("kind", ["factorized", "hyperprior"])
def test_a_garbage_payload_under_a_large_header_is_refused_before_anything_is_decoded_or_allocated(kind, nothing_decoded):
    # 404 garbage bytes under an 8192² header: 3.7-5.6 s and +430-800 MB before the fix; 2**24 pixels still took +110 MB.
    codec = rdpkit.codec(kind, max_pixels=1 << 26)
    data = _forged(codec, (1, 3, 8192, 8192), np.random.default_rng(0).integers(0, 256, 404, dtype=np.uint8).tobytes())
    tracemalloc.start()
    try:
        with pytest.raises(CorruptBitstream, match="payload of 404 bytes cannot hold the .* values its header announces"):
            codec.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak / 2**20:.0f} MiB allocated before the refusal"


# -- compressai-model: the latent shape is the image's, exactly ---------------------------------------------------


class Recorder(torch.nn.Module):
    """A stride-64 CompressAI-protocol model that records the latent shapes it is asked to decompress (and builds images of that size)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.asked: list[list[int]] = []

    def compress(self, x):
        return {"strings": [[b"\x00" * 4] * x.shape[0]], "shape": [x.shape[-2] // 64, x.shape[-1] // 64]}

    def decompress(self, strings, shape):
        self.asked.append(shape)
        return {"x_hat": torch.zeros(len(strings[0]), 3, 64 * shape[0], 64 * shape[1])}


def test_a_latent_the_image_cannot_have_is_refused_before_the_model_runs():
    # A 134-byte bitstream of a 64×64 image announced a 16384×16384 latent, which the old bound allowed: 4.3 GB in the model.
    model = Recorder()
    codec = CompressAIProtocolCodec(model)
    bits = codec.encode(torch.rand(1, 3, 64, 64))
    assert bits.header["latent"] == [1, 1]
    assert codec.decode(bits.to_bytes()).shape == (1, 3, 64, 64) and model.asked == [[1, 1]]
    for latent in ([16384, 16384], [2, 1], [1.0, 1.0], [1]):
        forged = Bitstream(bits.codec, bits.shape, bits.payload, {**bits.header, "latent": latent}).to_bytes()
        with pytest.raises(CorruptBitstream, match=r"latent shape .* for 64×64 images, not the \[1, 1\] of this model's stride 64"):
            codec.decode(forged)
    assert model.asked == [[1, 1]]


def test_a_stride_that_is_not_the_models_is_refused_when_coding():
    with pytest.raises(InputError, match=r"latent shape \[1, 1\] for 64×64 images, not the \[8, 8\] of a stride of 8; create the codec with stride set"):
        CompressAIProtocolCodec(Recorder(), stride=8).encode(torch.rand(1, 3, 64, 64))
