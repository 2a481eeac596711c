"""Entropy coding of integer symbols with constriction's range coder, from integer tables only.

Every probability model here is a table of non-negative integers. Integers are exact in
float64, so the table constriction turns into its fixed-point model is bit-identical on every
machine, whatever device or dtype computed the symbols: the bitstreams decode elsewhere
(the bug CompressAI users report when tables come from floating-point results).

Compressed words are stored little-endian, whatever the byte order of the machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import CorruptBitstream, InputError

#: The adaptive model is updated after blocks of 16, 32, 64, ... symbols, at most this many.
ADAPTIVE_BLOCK = 4096
_FIRST_BLOCK = 16
_WORD = np.dtype("<u4")
#: Fixed-point precision of constriction's categorical models (its default, used by Categorical).
_PRECISION = 24


def quantize_frequencies(counts: np.ndarray, precision: int = 16) -> np.ndarray:
    """Integer frequencies ≥ 1 summing to 2**precision, proportional to `counts` (last axis).

    Integer arithmetic only (largest remainders, ties to the lower symbol), so the result is
    the same on every machine. Every symbol keeps a non-zero frequency: no index is uncodable.
    """
    counts = np.asarray(counts)
    if counts.ndim < 1 or counts.shape[-1] < 1 or not np.issubdtype(counts.dtype, np.integer):
        raise InputError(f"counts must be an integer array with symbols on the last axis, got {counts.dtype} of shape {counts.shape}.")
    if (counts < 0).any():
        raise InputError("counts must be non-negative.")
    n = counts.shape[-1]
    total = 1 << precision
    if n > total:
        raise InputError(f"{n} symbols do not fit a {precision}-bit frequency table; raise precision above {int(np.ceil(np.log2(n)))}.")
    c = counts.astype(np.int64)
    mass = c.sum(-1, keepdims=True)
    c = np.where(mass == 0, 1, c)  # a row never seen is coded with the uniform model
    mass = c.sum(-1, keepdims=True)
    spare = total - n  # what is left after giving every symbol its guaranteed 1
    scaled = c * spare
    freq = scaled // mass
    remainder = scaled % mass
    missing = spare - freq.sum(-1)
    # Rank symbols by remainder, largest first; stable argsort breaks ties by symbol index.
    order = np.argsort(-remainder, axis=-1, kind="stable")
    rank = np.argsort(order, axis=-1, kind="stable")  # inverse permutation: each symbol's place
    freq += rank < missing[..., None]
    return freq + 1


def max_symbols(num_bytes: int, alphabet: int, max_probability: float | None = None) -> int:
    """The most symbols from an `alphabet`-symbol model that `num_bytes` of range-coded payload can hold.

    constriction's categorical models (24-bit fixed point, perfect or not) give every symbol at
    least 1/2**24 of the mass, so no symbol is likelier than 1 − (L − 1)/2**24 and each costs at
    least c = −log2(1 − (L − 1)/2**24) bits. The range coder narrows its 64-bit range by at least
    that factor per symbol, keeps the range ≥ 2**32, and widens it by 2**32 only when it writes a
    32-bit word, then seals with one or two more words; so n symbols need W words with
    32·(W − 1) ≥ n·c − 32, i.e. n ≤ 32·W / c. Only that floor is used, so the bound holds for the
    adaptive model and for integer tables alike. It is loose, never wrong: a constant
    sequence of 3·10⁷ symbols (the cheapest input) takes 7 (L = 4096) to 25 (L = 2) times the
    bytes it requires, shorter ones far more, while the model is still learning. With fixed
    tables, `max_probability` (the largest probability any table gives a symbol) tightens it.
    """
    if not 2 <= alphabet < 1 << _PRECISION:
        raise InputError(f"an alphabet of {alphabet} symbols cannot be range-coded here; it takes 2 to {(1 << _PRECISION) - 1} symbols.")
    likeliest = 1 - (alphabet - 1) / (1 << _PRECISION)
    if max_probability is not None:
        # Integer tables whose likeliest symbol has probability p cost at least −log2 p bits a symbol; constriction's
        # rounding to 24 bits can move a probability by at most 2**-23.
        likeliest = min(likeliest, max_probability + 2.0**-23)
    floor = -math.log2(likeliest)
    return math.floor(8 * num_bytes / floor)


def encoded_bytes(encoder: Any) -> bytes:
    """What a constriction RangeEncoder wrote, as the bytes a payload holds (little-endian 32-bit words)."""
    return np.asarray(encoder.get_compressed(), dtype=np.uint32).astype(_WORD).tobytes()


def _from_bytes(data: bytes) -> np.ndarray:
    if len(data) % 4:
        raise CorruptBitstream(f"the entropy-coded payload is {len(data)} bytes, not a whole number of 32-bit words; the bitstream is damaged, re-encode it.")
    return np.frombuffer(data, dtype=_WORD).astype(np.uint32)


def _check_count(data: bytes, alphabet: int, count: int, max_probability: float | None = None) -> np.ndarray:
    """The payload's words, once `count` symbols are known to fit in them (checked before anything is allocated)."""
    words = _from_bytes(data)
    if count > max_symbols(len(data), alphabet, max_probability):
        raise CorruptBitstream(f"an entropy-coded payload of {len(data)} bytes cannot hold the {count} symbols its header announces; the bitstream is damaged, re-encode it.")
    return words


class RangeReader:
    """A range decoder for untrusted bytes that re-encodes what it decodes, so that it knows where it is in the payload.

    Open one with `RangeReader.open`, which refuses a symbol count the payload cannot hold
    before anything is allocated; `read` symbols under any constriction model; `finish` at the end.

    constriction's decoder reads zeros past the end of its data without saying so, and decodes
    whatever the words say. The mirror encoder sees the same symbols under the same models:
    once it has written more words than the payload has, the payload has run out; at the end,
    a payload is valid only if it is exactly what the encoder writes for the decoded symbols.
    """

    @classmethod
    def open(cls, data: bytes, count: int, alphabet: int = 2, max_probability: float | None = None) -> RangeReader:
        """A reader of `data`, once `count` symbols of an `alphabet`-symbol model (no likelier than
        `max_probability`, when given) are known to fit in it."""
        return cls(_check_count(data, alphabet, count, max_probability))

    def __init__(self, words: np.ndarray) -> None:
        import constriction

        self.size = words.size
        self.decoder = constriction.stream.queue.RangeDecoder(words)
        self.mirror = constriction.stream.queue.RangeEncoder()
        self.words = words

    def read(self, model: Any, probabilities: np.ndarray | int) -> np.ndarray:
        try:
            symbols = self.decoder.decode(model, probabilities)
            if isinstance(probabilities, int):
                self.mirror.encode(symbols, model)
            else:
                self.mirror.encode(symbols, model, probabilities)
        except Exception as exc:  # noqa: BLE001 (constriction raises AssertionError, ValueError... on invalid data)
            raise CorruptBitstream(f"the entropy-coded payload cannot be decoded (constriction's {type(exc).__name__}); the bitstream is damaged, re-encode it.") from None
        # Sealing adds at least one word to those written so far.
        if self.mirror.pos()[0] >= self.size:
            raise _ended()
        return np.asarray(symbols, dtype=np.int64)

    def finish(self) -> None:
        expected = self.mirror.get_compressed()
        if expected.size > self.size:
            raise _ended()
        if np.array_equal(expected, self.words[: expected.size]):
            if expected.size < self.size:
                raise CorruptBitstream("the entropy-coded payload holds more data than its header announces; the bitstream is damaged, re-encode it.")
            return
        raise CorruptBitstream("the entropy-coded payload differs from the encoding of the symbols it decodes to; the bitstream is damaged, re-encode it.")


def _ended() -> CorruptBitstream:
    return CorruptBitstream("the entropy-coded payload ends before the symbols its header announces; the bitstream is truncated, re-encode it.")


def _check_symbols(symbols: np.ndarray, alphabet: int) -> np.ndarray:
    if alphabet < 2:
        raise InputError(f"an alphabet of {alphabet} symbol(s) needs no coding; entropy coding takes at least 2 symbols.")
    s = np.asarray(symbols)
    if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
        raise InputError(f"symbols must be a 1-D integer array, got {s.dtype} of shape {s.shape}.")
    if s.size and (int(s.min()) < 0 or int(s.max()) >= alphabet):
        raise InputError(f"symbols must lie in [0, {alphabet - 1}], got [{int(s.min())}, {int(s.max())}].")
    return s.astype(np.int32)


def _check_tables(tables: np.ndarray, count: int) -> np.ndarray:
    """`tables` as float64 rows, m×n, with `count` a multiple of m (symbol i takes row i mod m)."""
    t = np.asarray(tables)
    t = t[None] if t.ndim == 1 else t
    if t.ndim != 2 or t.shape[1] < 2 or not np.issubdtype(t.dtype, np.integer) or (t < 0).any() or (t.sum(1) == 0).any():
        raise InputError(f"tables must be non-negative integer frequencies, one row of at least 2 symbols per position (m×n), each row with a positive sum, got {t.dtype} of shape {t.shape}.")
    m = t.shape[0]
    if count % max(m, 1) or (m == 0 and count):
        raise InputError(f"{count} symbols cannot take {m} tables in turn; the count must be a multiple of {m}.")
    return t.astype(np.float64)


def _periods(count: int, tables: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Slices of whole periods of the tables (about ADAPTIVE_BLOCK symbols each) and their probability rows."""
    m = tables.shape[0]
    if not count:
        return
    step = m * max(1, ADAPTIVE_BLOCK // m)
    rows = np.tile(tables, (step // m, 1))
    for start in range(0, count, step):
        stop = min(start + step, count)
        yield slice(start, stop), rows[: stop - start]


def encode_with_tables(symbols: np.ndarray, tables: np.ndarray) -> bytes:
    """Range-code `symbols[i]` with the integer frequency table `tables[i mod m]` (tables m×n, or one n-table for all)."""
    import constriction

    t = np.asarray(tables)
    s = _check_symbols(symbols, t.shape[-1] if t.ndim else 0)
    t = _check_tables(t, s.size)
    encoder = constriction.stream.queue.RangeEncoder()
    for block, rows in _periods(s.size, t):
        encoder.encode(s[block], constriction.stream.model.Categorical(perfect=False), rows)
    return encoded_bytes(encoder)


def decode_with_tables(data: bytes, tables: np.ndarray, count: int) -> np.ndarray:
    """Inverse of `encode_with_tables`: `count` symbols; CorruptBitstream if the data do not fit."""
    import constriction

    t = _check_tables(tables, count)
    reader = RangeReader.open(data, count, t.shape[1])
    model = constriction.stream.model.Categorical(perfect=False)
    blocks = [reader.read(model, rows) for _, rows in _periods(count, t)]
    reader.finish()
    return np.concatenate(blocks, dtype=np.int64) if blocks else np.zeros(0, np.int64)


def _adaptive_blocks(count: int, alphabet: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield each block's slice and its model: 1 + the counts of all earlier blocks (updated by the caller).

    Blocks double in size from 16 to ADAPTIVE_BLOCK symbols, so the model learns quickly at the
    start and costs one model construction per 4096 symbols later on.
    """
    counts = np.ones(alphabet, dtype=np.int64)
    start, size = 0, _FIRST_BLOCK
    while start < count:
        yield slice(start, min(start + size, count)), counts
        start, size = start + size, min(2 * size, ADAPTIVE_BLOCK)


def encode_adaptive(symbols: np.ndarray, alphabet: int) -> bytes:
    """Range-code symbols with an adaptive model: each block uses the counts of all earlier blocks (Laplace-smoothed).

    No table is stored; the decoder rebuilds the same integer counts as it goes.
    """
    import constriction

    s = _check_symbols(symbols, alphabet)
    encoder = constriction.stream.queue.RangeEncoder()
    for block, counts in _adaptive_blocks(s.size, alphabet):
        encoder.encode(s[block], constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False))
        counts += np.bincount(s[block], minlength=alphabet)
    return encoded_bytes(encoder)


def decode_adaptive(data: bytes, alphabet: int, count: int) -> np.ndarray:
    """Inverse of `encode_adaptive`; CorruptBitstream if the data do not fit.

    The output grows block by block as the payload yields symbols, so a header that announces
    more than the payload holds costs no more memory than the payload itself.
    """
    import constriction

    reader = RangeReader.open(data, count, alphabet)
    blocks = []
    for block, counts in _adaptive_blocks(count, alphabet):
        symbols = reader.read(constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False), block.stop - block.start)
        counts += np.bincount(symbols, minlength=alphabet)
        blocks.append(symbols)
    reader.finish()
    return np.concatenate(blocks, dtype=np.int64) if blocks else np.zeros(0, np.int64)
