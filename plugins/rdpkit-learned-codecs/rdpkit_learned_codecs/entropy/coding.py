"""Range coding of integer latents with integer tables (constriction), in one stream per bitstream.

A bitstream's latents come in segments (the hyper-latent z, then the latent y), each value
with the index of the table it is coded with. Within a segment, values are coded table by
table (stable order), each group with the table's frequencies as one constriction model; a
value outside its table's range is coded as the escape symbol, and after the segment's
groups, each escape's distance is coded as its bit length and then its bits, four at a time,
with uniform models. Every model is built from integers only, so a stream decodes to the same
values wherever it is decoded.

The decoder reads through rdpkit.codecs.entropy.RangeReader: it knows how many values to
read before it reads them, refuses counts the payload cannot hold before allocating, and
re-encodes what it decodes, so a payload that runs out, holds more, or decodes to symbols
whose encoding differs is a CorruptBitstream, never a silent misread or an error from the coder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rdpkit.codecs.entropy import RangeReader, encoded_bytes
from rdpkit.errors import CorruptBitstream

from .tables import PRECISION as PRECISION_BITS
from .tables import Tables

#: Values are clamped to lie within this distance of their table (a trained model's latents never come near).
LIMIT = 1 << 20
#: Bit length of the largest escape distance: zigzag(±LIMIT) < 2**22.
MAX_BITS = 22
_NIBBLE = 4


def _model(freqs: np.ndarray):
    import constriction

    return constriction.stream.model.Categorical(np.asarray(freqs, dtype=np.float64), perfect=False)


_UNIFORM_BITS = np.ones(MAX_BITS + 1, dtype=np.int64)
_UNIFORM_NIBBLE = np.ones(1 << _NIBBLE, dtype=np.int64)


def _groups(table_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions ordered table by table (stable), the tables present, and how many values each has.

    Table indices are rows of a table set (non-negative, a few hundred at most): as 16-bit keys
    numpy's stable sort is a radix sort, an order of magnitude faster than on int64, same order.
    """
    keys = table_index.astype(np.int16) if table_index.max(initial=0) < 1 << 15 else table_index
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(table_index)
    tables = np.flatnonzero(counts)
    return order, tables, counts[tables]


def channel_index(shape: tuple[int, ...]) -> np.ndarray:
    """The table of every entry of an N×C×H×W latent coded with one table per channel: its channel."""
    n, c, h, w = shape
    return np.broadcast_to(np.arange(c, dtype=np.int64)[None, :, None], (n, c, h * w)).ravel()


def _zigzag(d: np.ndarray) -> np.ndarray:
    return np.where(d >= 0, 2 * d, -2 * d - 1)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    return np.where(u % 2 == 0, u // 2, -(u + 1) // 2)


def _nibbles(bits: np.ndarray) -> np.ndarray:
    """How many 4-bit digits follow each escape's bit length (the leading 1 is implied)."""
    return np.maximum(bits - 1, 0).astype(np.int64) // _NIBBLE + (np.maximum(bits - 1, 0) % _NIBBLE > 0)


class Writer:
    """Encodes segments of values into one range-coded stream."""

    def __init__(self) -> None:
        import constriction

        self.encoder = constriction.stream.queue.RangeEncoder()
        self.ideal_bits = 0.0  # the code length the tables assign: −Σ log2 p, escapes included

    def write(self, values: np.ndarray, table_index: np.ndarray, tables: Tables) -> None:
        values, table_index = np.asarray(values, np.int64).ravel(), np.asarray(table_index, np.int64).ravel()
        order, present, counts = _groups(table_index)
        lows, sizes = tables.lows[table_index], tables.sizes[table_index]
        values = np.clip(values, lows - LIMIT, lows + sizes - 2 + LIMIT)
        s = values - lows
        escape = (s < 0) | (s > sizes - 2)
        symbols = np.where(escape, sizes - 1, s)
        start = 0
        for t, n in zip(present.tolist(), counts.tolist()):
            block = symbols[order[start : start + n]].astype(np.int32)
            freqs = tables.row(t)
            self.encoder.encode(block, _model(freqs))
            self.ideal_bits += float(n * PRECISION_BITS - np.log2(freqs[block]).sum())
            start += n
        where = order[escape[order]]
        if where.size:
            d = np.where(s[where] < 0, s[where], s[where] - (sizes[where] - 2))
            self._escapes(_zigzag(d))

    def _escapes(self, u: np.ndarray) -> None:
        bits = np.array([int(v).bit_length() for v in u.tolist()], dtype=np.int64)
        self.encoder.encode(bits.astype(np.int32), _model(_UNIFORM_BITS))
        digits = []
        for v, b in zip(u.tolist(), bits.tolist()):
            rest = b - 1
            for k in range(-(-max(rest, 0) // _NIBBLE)):
                shift = max(rest - _NIBBLE * (k + 1), 0)
                width = rest - _NIBBLE * k - shift
                digits.append((v >> shift) & ((1 << width) - 1))
        if digits:
            self.encoder.encode(np.asarray(digits, dtype=np.int32), _model(_UNIFORM_NIBBLE))
        self.ideal_bits += float(bits.size * math.log2(MAX_BITS + 1) + len(digits) * _NIBBLE)

    def finish(self) -> bytes:
        return encoded_bytes(self.encoder)


def _likeliest(tables: Tables) -> np.ndarray:
    """Each table's largest symbol probability."""
    return np.maximum.reduceat(tables.freqs, tables.starts) / np.add.reduceat(tables.freqs, tables.starts)


def max_probability(tables: Sequence[Tables]) -> float:
    """The largest probability any of `tables` gives a symbol."""
    return max((float(_likeliest(t).max()) for t in tables if len(t)), default=0.0)


def min_bits(tables: Tables) -> np.ndarray:
    """The fewest bits the range coder can spend on a symbol of each table: −log2 of its likeliest symbol's probability.

    As in rdpkit.codecs.entropy.max_symbols: constriction's 24-bit rounding can raise a probability by at most 2**−23,
    and leaves every other symbol at least 2**−24; the costs of a stream's symbols add up to at most 8 bits a byte.
    """
    likeliest = np.minimum(_likeliest(tables) + 2.0**-23, 1 - (tables.sizes - 1) / float(1 << 24))
    return -np.log2(likeliest)


class Reader:
    """Decodes segments written by `Writer`, in the same order, from untrusted bytes.

    `budget` is the total number of values the caller will ask for; it is checked against what
    the payload can hold under `tables` (no symbol likelier than their likeliest) before anything
    is decoded or allocated (rdpkit.codecs.entropy.RangeReader). Each `read` then checks, before
    it decodes, that the payload can hold the fewest bits its values cost under their own tables
    (`min_bits`) on top of those read before: a model with one near-certain table would otherwise let
    a few hundred bytes announce tens of millions of values.
    """

    def __init__(self, data: bytes, budget: int, tables: Sequence[Tables] = ()) -> None:
        self.stream = RangeReader.open(data, budget, max_probability=max_probability(tables) if tables else None)
        self.capacity = 8 * len(data)
        self.spent = 0.0  # the fewest bits the values read so far cost

    def _decode(self, model, count: int) -> np.ndarray:
        return self.stream.read(model, count)

    def read(self, table_index: np.ndarray, tables: Tables) -> np.ndarray:
        """The values coded with the tables `table_index` names, one each."""
        table_index = np.asarray(table_index, np.int64).ravel()
        self._charge(np.bincount(table_index, minlength=len(tables)), tables)
        return self._read(table_index, tables)

    def read_channels(self, shape: tuple[int, int, int, int], tables: Tables) -> np.ndarray:
        """An N×C×H×W latent coded with one table per channel (`channel_index`), refused before its index is built."""
        n, c, h, w = shape
        self._charge(np.full(c, n * h * w), tables)
        return self._read(channel_index(shape), tables).reshape(shape)

    def _charge(self, counts: np.ndarray, tables: Tables) -> None:
        """Add the fewest bits `counts` values of each table cost to those read before; refuse what the payload cannot hold."""
        self.spent += float(counts @ min_bits(tables))
        if self.spent > self.capacity:
            raise CorruptBitstream(f"an entropy-coded payload of {self.capacity // 8} bytes cannot hold the {int(counts.sum())} values its header announces here "
                                   f"(they cost at least {self.spent / 8:.0f} bytes under the model's tables); the bitstream is damaged, re-encode it.")

    def _read(self, table_index: np.ndarray, tables: Tables) -> np.ndarray:
        order, present, counts = _groups(table_index)
        symbols = np.empty(table_index.size, dtype=np.int64)
        start = 0
        for t, n in zip(present.tolist(), counts.tolist()):
            symbols[order[start : start + n]] = self._decode(_model(tables.row(t)), n)
            start += n
        lows, sizes = tables.lows[table_index], tables.sizes[table_index]
        values = lows + symbols
        escape = symbols == sizes - 1
        where = order[escape[order]]
        if where.size:
            d = _unzigzag(self._escapes(where.size))
            values[where] = np.where(d < 0, lows[where] + d, lows[where] + sizes[where] - 2 + d)
        return values

    def _escapes(self, count: int) -> np.ndarray:
        bits = self._decode(_model(_UNIFORM_BITS), count)
        nibbles = _nibbles(bits)
        total = int(nibbles.sum())
        digits = self._decode(_model(_UNIFORM_NIBBLE), total) if total else np.zeros(0, np.int64)
        out = np.zeros(count, dtype=np.int64)
        pos = 0
        for i, (b, k) in enumerate(zip(bits.tolist(), nibbles.tolist())):
            if b == 0:
                continue
            v, rest = 1, b - 1
            for j in range(k):
                width = min(_NIBBLE, rest - _NIBBLE * j)
                v = (v << width) | int(digits[pos])
                pos += 1
            out[i] = v
        return out

    def finish(self) -> None:
        self.stream.finish()
