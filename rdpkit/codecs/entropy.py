"""Entropy coding of integer symbols with constriction's range coder, from integer tables only.

Every probability model here is a table of non-negative integers. Integers are exact in
float64, so the table constriction turns into its fixed-point model is bit-identical on every
machine, whatever device or dtype computed the symbols: the bitstreams decode elsewhere
(the bug CompressAI users report when tables come from floating-point results).

Compressed words are stored little-endian, whatever the byte order of the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import CorruptBitstream, InputError

#: The adaptive model is updated after blocks of 16, 32, 64, ... symbols, at most this many.
ADAPTIVE_BLOCK = 4096
_FIRST_BLOCK = 16
_WORD = np.dtype("<u4")


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


def _words(compressed: np.ndarray) -> bytes:
    return np.asarray(compressed, dtype=np.uint32).astype(_WORD).tobytes()


def _from_bytes(data: bytes) -> np.ndarray:
    if len(data) % 4:
        raise CorruptBitstream(f"the entropy-coded payload is {len(data)} bytes, not a whole number of 32-bit words; the bitstream is damaged, re-encode it.")
    return np.frombuffer(data, dtype=_WORD).astype(np.uint32)


def _decoder(data: bytes) -> Any:  # a constriction.stream.queue.RangeDecoder
    import constriction

    try:
        return constriction.stream.queue.RangeDecoder(_from_bytes(data))
    except ValueError as exc:
        raise CorruptBitstream(f"the entropy-coded payload cannot be read ({exc}); the bitstream is damaged, re-encode it.") from None


def _finish(decoder: Any, what: str) -> None:
    if not decoder.maybe_exhausted():
        raise CorruptBitstream(f"the {what} payload holds more data than its header announces; the bitstream is damaged, re-encode it.")


def _check_symbols(symbols: np.ndarray, alphabet: int) -> np.ndarray:
    if alphabet < 2:
        raise InputError(f"an alphabet of {alphabet} symbol(s) needs no coding; entropy coding takes at least 2 symbols.")
    s = np.asarray(symbols)
    if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
        raise InputError(f"symbols must be a 1-D integer array, got {s.dtype} of shape {s.shape}.")
    if s.size and (int(s.min()) < 0 or int(s.max()) >= alphabet):
        raise InputError(f"symbols must lie in [0, {alphabet - 1}], got [{int(s.min())}, {int(s.max())}].")
    return s.astype(np.int32)


def encode_with_tables(symbols: np.ndarray, tables: np.ndarray) -> bytes:
    """Range-code `symbols[i]` with the integer frequency table `tables[i]` (m×n, or one n-table for all)."""
    import constriction

    tables = np.asarray(tables)
    s = _check_symbols(symbols, tables.shape[-1])
    probs = np.broadcast_to(tables.astype(np.float64), (s.size, tables.shape[-1]))
    encoder = constriction.stream.queue.RangeEncoder()
    if s.size:
        encoder.encode(s, constriction.stream.model.Categorical(perfect=False), np.ascontiguousarray(probs))
    return _words(encoder.get_compressed())


def decode_with_tables(data: bytes, tables: np.ndarray, count: int) -> np.ndarray:
    """Inverse of `encode_with_tables`: `count` symbols; CorruptBitstream if the data do not fit."""
    import constriction

    tables = np.asarray(tables)
    decoder = _decoder(data)
    probs = np.ascontiguousarray(np.broadcast_to(tables.astype(np.float64), (count, tables.shape[-1])))
    try:
        out = decoder.decode(constriction.stream.model.Categorical(perfect=False), probs) if count else np.zeros(0, np.int32)
    except (ValueError, RuntimeError) as exc:
        raise CorruptBitstream(f"the entropy-coded payload cannot be decoded ({exc}); the bitstream is damaged, re-encode it.") from None
    _finish(decoder, "entropy-coded")
    return out.astype(np.int64)


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
    return _words(encoder.get_compressed())


def decode_adaptive(data: bytes, alphabet: int, count: int) -> np.ndarray:
    """Inverse of `encode_adaptive`; CorruptBitstream if the data do not fit."""
    import constriction

    decoder = _decoder(data)
    out = np.empty(count, dtype=np.int64)
    try:
        for block, counts in _adaptive_blocks(count, alphabet):
            model = constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)
            out[block] = decoder.decode(model, block.stop - block.start)
            counts += np.bincount(out[block], minlength=alphabet)
    except (ValueError, RuntimeError) as exc:
        raise CorruptBitstream(f"the entropy-coded payload cannot be decoded ({exc}); the bitstream is damaged, re-encode it.") from None
    _finish(decoder, "entropy-coded")
    return out
