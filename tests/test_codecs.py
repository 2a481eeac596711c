"""Built-in codecs (jpeg, webp, sq) and the shared entropy coder, against Pillow and closed forms."""

from __future__ import annotations

import io
import math
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import rdpkit
import rdpkit.testing as rt
from rdpkit.bitstream import Bitstream
from rdpkit.codecs import entropy
from rdpkit.codecs.entropy import (
    decode_adaptive,
    decode_with_tables,
    encode_adaptive,
    encode_with_tables,
    quantize_frequencies,
)
from rdpkit.data import to_numpy

CODECS = [("jpeg", {"quality": 40}), ("webp", {"quality": 60}), ("webp", {"lossless": True}), ("sq", {"levels": 8})]


@pytest.fixture
def registry(rdpkit_registry):
    return rdpkit_registry


def eight_bit(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x * 255) / 255


@pytest.mark.parametrize(("name", "options"), CODECS)
@pytest.mark.parametrize("gray", [False, True])
def test_contract(registry, name, options, gray, astronaut64):
    x = astronaut64[:, :1].repeat(2, 1, 1, 1) if gray else astronaut64.repeat(2, 1, 1, 1)
    rt.check_codec(registry.create("codec", name, **options), x)


def test_registered_through_the_builtin_plugin(registry):
    for name in ("jpeg", "webp", "sq"):
        assert registry.info("codec", name).distribution == "rdpkit"


@pytest.mark.parametrize("quality", [10, 75])
def test_jpeg_bytes_and_pixels_are_pillows(registry, astronaut64, quality):
    x = astronaut64.double()
    bits = registry.create("codec", "jpeg", quality=quality).encode(x)
    buffer = io.BytesIO()
    Image.fromarray(to_numpy(x)).save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
    reference = buffer.getvalue()
    assert bits.payload == len(reference).to_bytes(4, "big") + reference
    decoded = registry.create("codec", "jpeg").decode(bits.to_bytes())
    expected = torch.from_numpy(np.array(Image.open(io.BytesIO(reference)))).permute(2, 0, 1)[None].double() / 255
    assert decoded.dtype == torch.float64 and torch.equal(decoded, expected)
    assert bits.bits_per_image == 8 * len(bits.to_bytes())
    assert bits.num_bytes - len(reference) < 120  # container and framing only


def test_rate_falls_and_error_rises_as_quality_drops(registry, astronaut64):
    rates, errors = [], []
    for q in (90, 50, 10):
        codec = registry.create("codec", "jpeg", quality=q)
        bits = codec.encode(astronaut64)
        rates.append(bits.bpp)
        errors.append(float((codec.decode(bits) - astronaut64).pow(2).mean()))
    assert rates[0] > rates[1] > rates[2] and errors[0] < errors[1] < errors[2]


def test_webp_lossless_is_exact_on_8_bit_images(registry, astronaut64):
    x = eight_bit(astronaut64)
    codec = registry.create("codec", "webp", lossless=True)
    assert torch.allclose(codec.decode(codec.encode(x)), x, atol=1e-7, rtol=0)


def test_sq_256_levels_is_lossless_on_8_bit_images(registry, astronaut64):
    x = eight_bit(astronaut64)
    codec = registry.create("codec", "sq", levels=256)
    assert torch.allclose(codec.decode(codec.encode(x)), x, atol=1e-7, rtol=0)


@pytest.mark.parametrize("levels", [2, 5, 16])
def test_sq_mse_is_the_closed_form_for_uniform_input(registry, levels):
    # Interior values uniform over a bin have error uniform on (−Δ/2, Δ/2): MSE = Δ²/12.
    # The two end bins are half-bins (error in [0, Δ/2)), which gives the same Δ²/12.
    x = torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(levels), dtype=torch.float64)
    codec = registry.create("codec", "sq", levels=levels)
    mse = float((codec.decode(codec.encode(x)) - x).pow(2).mean())
    delta = 1 / (levels - 1)
    assert mse == pytest.approx(delta**2 / 12, rel=0.03)


def empirical_entropy_bits(symbols: np.ndarray) -> float:
    counts = np.bincount(symbols)
    p = counts[counts > 0] / symbols.size
    return float(-(counts[counts > 0] * np.log2(p)).sum())


@pytest.mark.parametrize("levels", [4, 64])
def test_sq_rate_is_near_the_empirical_entropy_of_left_residuals(registry, astronaut64, levels):
    codec = registry.create("codec", "sq", levels=levels)
    bits = codec.encode(astronaut64)
    idx = np.rint(astronaut64.double().numpy() * (levels - 1)).astype(np.int64)
    residuals = np.concatenate([idx[..., :1], np.mod(np.diff(idx, axis=-1), levels)], axis=-1)
    n_h = empirical_entropy_bits(residuals.ravel())
    payload = 8 * len(bits.payload)
    # A Laplace-mixture code can never beat the empirical entropy (up to the coder's final
    # word); its regret is about (L−1)/2·log2(n) bits, here at most doubled by updating the
    # model only between blocks.
    count = astronaut64.numel()
    assert n_h - 64 <= payload <= n_h + (levels - 1) * math.log2(count) + 128
    assert payload < 0.9 * empirical_entropy_bits(idx.ravel())  # prediction pays off on a photograph


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), levels=st.integers(2, 300), n=st.integers(1, 3), c=st.sampled_from([1, 3]), size=st.integers(1, 9))
def test_sq_error_bound_and_idempotence(seed, levels, n, c, size):
    codec = rdpkit.testing.fresh_registry().create("codec", "sq", levels=levels)
    x = torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed))
    y = codec.decode(codec.encode(x))
    assert float((y - x).abs().max()) <= 0.5 / (levels - 1) + 1e-6
    assert torch.equal(codec.decode(codec.encode(y)), y)


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 10**6), min_size=1, max_size=70), precision=st.integers(7, 20))
def test_quantized_frequencies_sum_exactly_and_follow_the_counts(counts, precision):
    freq = quantize_frequencies(np.array(counts), precision)
    total = 1 << precision
    assert freq.dtype == np.int64 and int(freq.sum()) == total and int(freq.min()) >= 1
    c = np.array(counts, dtype=np.float64)
    if c.sum() > 0:
        # Each frequency is 1 + its share of the rest, rounded by at most one unit.
        ideal = 1 + c / c.sum() * (total - len(counts))
        assert np.abs(freq - ideal).max() < 1 + 1e-9


def test_quantized_frequencies_rows_are_independent():
    rows = np.array([[3, 0, 1], [0, 0, 0], [7, 7, 7]])
    assert np.array_equal(quantize_frequencies(rows, 8), np.stack([quantize_frequencies(r, 8) for r in rows]))
    assert np.array_equal(quantize_frequencies(rows[1], 8), quantize_frequencies(np.ones(3, dtype=int), 8))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), alphabet=st.integers(2, 40), count=st.integers(0, 600))
def test_table_coding_round_trips_at_the_cross_entropy(seed, alphabet, count):
    rng = np.random.default_rng(seed)
    tables = quantize_frequencies(rng.integers(0, 50, size=(count, alphabet)), 16)
    symbols = np.array([rng.choice(alphabet, p=t / t.sum()) for t in tables], dtype=np.int64)
    data = encode_with_tables(symbols, tables)
    assert np.array_equal(decode_with_tables(data, tables, count), symbols)
    ideal = -sum(math.log2(t[s] / t.sum()) for t, s in zip(tables, symbols))
    assert 8 * len(data) <= ideal * 1.01 + 64


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), alphabet=st.integers(2, 300), count=st.integers(0, 9000))
def test_adaptive_coding_round_trips(seed, alphabet, count):
    symbols = np.random.default_rng(seed).integers(0, alphabet, count)
    assert np.array_equal(decode_adaptive(encode_adaptive(symbols, alphabet), alphabet, count), symbols)


def test_coders_refuse_a_one_symbol_alphabet_and_out_of_range_symbols():
    with pytest.raises(rdpkit.InputError, match="at least 2 symbols"):
        encode_adaptive(np.zeros(3, dtype=int), 1)
    with pytest.raises(rdpkit.InputError, match="symbols must lie in \\[0, 3\\]"):
        encode_with_tables(np.array([0, 4]), np.ones(4, dtype=int))


def forge(bits: Bitstream, payload: bytes | None = None, **header) -> bytes:
    """A bitstream with a valid CRC but altered contents: what the payload decoders must catch."""
    return Bitstream(bits.codec, bits.shape, bits.payload if payload is None else payload, {**bits.header, **header}).to_bytes()


@pytest.mark.parametrize(("name", "options"), CODECS)
def test_forged_payloads_and_headers_raise_one_sentence(registry, name, options, astronaut64):
    codec = registry.create("codec", name, **options)
    bits = codec.encode(astronaut64)
    for raw in (
        forge(bits, payload=bits.payload[:-3]),
        forge(bits, payload=bits.payload + b"\0\0\0\0\0\0\0\0"),
        forge(bits, dtype="int8"),
        Bitstream(bits.codec, (1, 3, 0, 64), bits.payload, bits.header).to_bytes(),
    ):
        with pytest.raises(rdpkit.CorruptBitstream) as err:
            codec.decode(raw)
        assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


def test_forged_sq_levels(registry, astronaut64):
    bits = registry.create("codec", "sq").encode(astronaut64)
    for levels in (None, 1, "16", 10**9):
        with pytest.raises(rdpkit.CorruptBitstream, match="levels"):
            registry.create("codec", "sq").decode(forge(bits, levels=levels))


def test_bits_of_another_codec_are_refused(registry, astronaut64):
    bits = registry.create("codec", "jpeg").encode(astronaut64)
    with pytest.raises(rdpkit.CorruptBitstream, match="rdpkit.codec\\('jpeg'\\)"):
        registry.create("codec", "webp").decode(bits)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [("jpeg", {"quality": 0}, "JPEG quality must be an integer from 1 to 95"), ("jpeg", {"quality": 50.5}, "'quality' of codec 'jpeg' must be an integer"),
     ("webp", {"quality": 101}, "WebP quality"), ("webp", {"method": 7}, "WebP method"), ("sq", {"levels": 1}, "levels must be"),
     ("sq", {"levels": True}, "'levels' of codec 'sq' must be an integer")],
)
def test_bad_options(registry, name, options, message):
    with pytest.raises(rdpkit.InputError, match=message):
        registry.create("codec", name, **options)


def test_pillow_codecs_refuse_other_channel_counts(registry):
    with pytest.raises(rdpkit.InputError, match="gray \\(1 channel\\) or RGB"):
        registry.create("codec", "jpeg").encode(torch.rand(1, 2, 8, 8))


# -- damaged and hostile bitstreams -----------------------------------------------------------

SQ_HEADER = {"levels": 16, "dtype": "float32"}


def peak_bytes(fn, *args) -> int:
    """Peak memory numpy and Python allocate while `fn(*args)` runs (tracemalloc sees numpy's buffers)."""
    tracemalloc.start()
    try:
        fn(*args)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def refused(codec, raw: bytes) -> rdpkit.CorruptBitstream:
    with pytest.raises(rdpkit.CorruptBitstream) as err:
        codec.decode(raw)
    message = str(err.value)
    assert message.endswith(".") and message.count(". ") == 0, message
    return err.value


@pytest.mark.parametrize("payload", [b"", b"\x12\x34\x56\x78"])
def test_sq_header_larger_than_its_payload_can_hold_is_refused_before_allocating(payload):
    codec = rdpkit.codec("sq")
    raw = Bitstream("sq", (1, 1, 4000, 4000), payload, SQ_HEADER).to_bytes()
    peak = peak_bytes(lambda: pytest.raises(rdpkit.CorruptBitstream, codec.decode, raw))
    assert peak < 4 * 2**20
    message = str(refused(codec, raw))
    assert "cannot hold" in message if not payload else "ends before" in message


def test_sq_empty_payload_is_refused():
    # It used to decode to a black image: the range decoder reads zeros past the end of its data.
    assert "cannot hold" in str(refused(rdpkit.codec("sq"), Bitstream("sq", (1, 1, 4, 4), b"", SQ_HEADER).to_bytes()))


def test_sq_payload_cut_by_whole_words_says_it_runs_out(astronaut64):
    codec = rdpkit.codec("sq", levels=64)
    bits = codec.encode(astronaut64)
    for cut in (4, 8, len(bits.payload) // 2 // 4 * 4):
        assert "ends before" in str(refused(codec, forge(bits, payload=bits.payload[:-cut])))


def test_sq_garbage_payloads_are_corrupt_bitstreams():
    # constriction raised its own AssertionError ("Tried to decode from compressed data that is
    # invalid") on about half of these.
    codec = rdpkit.codec("sq")
    rng = np.random.default_rng(0)
    for _ in range(100):
        payload = rng.bytes(4 * int(rng.integers(1, 200)))
        refused(codec, Bitstream("sq", (1, 3, 64, 64), payload, SQ_HEADER).to_bytes())


@pytest.mark.parametrize("shape", [(1, 1, 10**12, 10**12), (2**40, 1, 1, 1), (-1, 1, 4, 4)])
def test_sq_impossible_shapes_are_refused(astronaut64, shape):
    bits = rdpkit.codec("sq").encode(astronaut64)
    refused(rdpkit.codec("sq"), Bitstream("sq", shape, bits.payload, bits.header).to_bytes())


def test_entropy_decoders_refuse_garbage_with_corrupt_bitstream():
    rng = np.random.default_rng(1)
    tables = quantize_frequencies(rng.integers(0, 50, size=(7, 5)), 16)
    for _ in range(100):
        data = rng.bytes(4 * int(rng.integers(1, 40)))
        with pytest.raises(rdpkit.CorruptBitstream):
            decode_adaptive(data, 16, 3000)
        with pytest.raises(rdpkit.CorruptBitstream):
            decode_with_tables(data, tables, 7 * 300)


def test_entropy_decoders_refuse_counts_the_data_cannot_hold_before_allocating():
    tables = quantize_frequencies(np.ones((3, 4), dtype=np.int64), 16)
    for decode, args in ((decode_adaptive, (b"\0" * 8, 2, 10**12)), (decode_with_tables, (b"\0" * 8, tables, 3 * 10**12))):
        assert peak_bytes(pytest.raises, rdpkit.CorruptBitstream, decode, *args) < 2**20


@pytest.mark.parametrize("alphabet", [2, 16, 4096])
def test_symbol_bound_holds_for_the_most_compressible_input(alphabet):
    # A constant sequence is the cheapest the adaptive coder can code: the bound must still admit it.
    count = 2_000_000
    data = encode_adaptive(np.zeros(count, dtype=np.int64), alphabet)
    assert count <= entropy.max_symbols(len(data), alphabet)
    assert np.array_equal(decode_adaptive(data, alphabet, count), np.zeros(count))


def test_table_coding_with_one_table_per_position_of_a_period():
    rng = np.random.default_rng(2)
    tables = quantize_frequencies(rng.integers(0, 50, size=(3, 6)), 16)
    symbols = rng.integers(0, 6, 3 * 500)
    data = encode_with_tables(symbols, tables)
    assert data == encode_with_tables(symbols, np.tile(tables, (500, 1)))
    assert np.array_equal(decode_with_tables(data, tables, symbols.size), symbols)
    with pytest.raises(rdpkit.InputError, match="multiple of"):
        decode_with_tables(data, tables, 10)


@pytest.mark.parametrize(("name", "options"), CODECS[:3])
def test_pillow_payload_whose_image_length_overruns_it_is_refused(registry, name, options, astronaut64):
    codec = registry.create("codec", name, **options)
    bits = codec.encode(astronaut64)
    longer = (int.from_bytes(bits.payload[:4], "big") + 10).to_bytes(4, "big") + bits.payload[4:]
    assert "-10 bytes" not in str(refused(codec, forge(bits, payload=longer)))


@pytest.mark.parametrize(("name", "options"), CODECS[:3])
@pytest.mark.parametrize("size", [(9000, 10000), (70000, 70000)])
def test_pillow_header_beyond_the_decompression_bomb_limit_is_refused_before_decoding(registry, name, options, size, astronaut64):
    codec = registry.create("codec", name, **options)
    bits = codec.encode(astronaut64)
    raw = Bitstream(bits.codec, (1, 3, *size), bits.payload, bits.header).to_bytes()
    assert "PIL.Image.MAX_IMAGE_PIXELS" in str(refused(codec, raw))


def announcing(format: str, height: int, width: int) -> bytes:
    """A small gray image file whose own header announces `height`×`width` pixels."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format=format)
    data = bytearray(buffer.getvalue())
    if format == "JPEG":
        at = data.index(b"\xff\xc0") + 5  # SOF0: marker, length, precision, then height and width
        data[at : at + 4] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    else:
        at = data.index(b"\x9d\x01\x2a") + 3  # VP8 key frame: start code, then width and height
        data[at : at + 4] = width.to_bytes(2, "little") + height.to_bytes(2, "little")
    return bytes(data)


def framed(name: str, data: bytes, shape: tuple[int, int, int, int]) -> bytes:
    return Bitstream(name, shape, len(data).to_bytes(4, "big") + data, {"dtype": "float32"}).to_bytes()


@pytest.mark.parametrize(("name", "format"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_pillow_file_announcing_another_size_than_the_header_is_refused_before_it_is_decoded(registry, name, format, recwarn):
    codec = registry.create("codec", name)
    # Under the bomb limit Pillow would allocate 81 Mpixels, then fail on the missing data.
    assert "9000×9000" in str(refused(codec, framed(name, announcing(format, 9000, 9000), (1, 1, 8, 8))))
    # In Pillow's warning band (1 to 2 times its limit) its DecompressionBombWarning must not escape.
    refused(codec, framed(name, announcing(format, 9500, 9500), (1, 1, 8, 8)))
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_jpeg_file_too_short_for_its_size_is_refused_rather_than_filled_in(registry):
    codec = registry.create("codec", "jpeg")
    # libjpeg decodes a file whose data stop early to gray and reports success.
    for size in ((2000, 2000), (64, 8000)):
        assert "fewer than any complete" in str(refused(codec, framed("jpeg", announcing("JPEG", *size), (1, 1, *size))))
    # The bound (1 bit per 8×8 block) still admits the smallest complete files Pillow writes: flat, optimised Huffman tables.
    for options in ({"optimize": True}, {"optimize": True, "progressive": True}):
        buffer = io.BytesIO()
        Image.new("L", (1024, 512), 128).save(buffer, format="JPEG", **options)
        assert codec.decode(framed("jpeg", buffer.getvalue(), (1, 1, 512, 1024))).shape == (1, 1, 512, 1024)


def test_pillow_metadata_warnings_do_not_escape(registry, recwarn):
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 200).save(buffer, format="JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x00")  # 5 entries, none there
    x = registry.create("codec", "jpeg").decode(framed("jpeg", buffer.getvalue(), (1, 1, 8, 8)))
    assert x.shape == (1, 1, 8, 8) and not list(recwarn)


def test_pillow_decompression_bomb_limit_is_pillows_and_says_how_to_raise_it(registry, monkeypatch):
    buffer = io.BytesIO()
    Image.new("L", (64, 64)).save(buffer, format="JPEG")
    raw = framed("jpeg", buffer.getvalue(), (1, 1, 64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert "PIL.Image.MAX_IMAGE_PIXELS" in str(refused(registry.create("codec", "jpeg"), raw))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert registry.create("codec", "jpeg").decode(raw).shape == (1, 1, 64, 64)


@pytest.mark.parametrize(("name", "limit"), [("webp", 16383), ("jpeg", 65500)])
def test_pillow_encoders_refuse_images_beyond_the_format_limit(registry, name, limit):
    codec = registry.create("codec", name)
    for shape in ((1, 1, 1, limit + 1), (1, 3, limit + 1, 1)):
        with pytest.raises(rdpkit.InputError, match=f"at most {limit} pixels") as err:
            codec.encode(torch.zeros(shape))
        assert str(err.value).count(". ") == 0
    x = torch.zeros(1, 1, 1, limit)
    assert codec.decode(codec.encode(x)).shape == x.shape
