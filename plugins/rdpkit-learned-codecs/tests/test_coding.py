"""Range coding with integer tables: exact round trips, code lengths from the tables, and damaged payloads refused in one sentence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdpkit_learned_codecs.entropy.coding import LIMIT, Reader, Writer
from rdpkit_learned_codecs.entropy.tables import PRECISION, from_pmfs
from scipy.stats import norm

from rdpkit.errors import CorruptBitstream


def _tables():
    grids = [np.arange(-6, 7), np.arange(-2, 3), np.arange(0, 1)]
    pmfs = [norm.cdf(v + 0.5, scale=s) - norm.cdf(v - 0.5, scale=s) for v, s in zip(grids, (2.0, 0.6, 0.05))]
    return from_pmfs(pmfs, [int(v[0]) for v in grids])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(-3 * LIMIT, 3 * LIMIT), st.integers(0, 2)), min_size=0, max_size=300),
       st.lists(st.tuples(st.integers(-8, 8), st.integers(0, 2)), min_size=0, max_size=50))
def test_segments_round_trip_exactly_with_values_clamped_near_their_tables(first, second):
    tables = _tables()
    w = Writer()
    segments = []
    for seg in (first, second):
        values = np.array([v for v, _ in seg], dtype=np.int64)
        index = np.array([t for _, t in seg], dtype=np.int64)
        w.write(values, index, tables)
        segments.append((values, index))
    data = w.finish()
    r = Reader(data, sum(v.size for v, _ in segments))
    for values, index in segments:
        low, size = tables.lows[index], tables.sizes[index]
        np.testing.assert_array_equal(r.read(index, tables), np.clip(values, low - LIMIT, low + size - 2 + LIMIT))
    r.finish()


def test_code_length_is_what_the_tables_assign():
    # 20,000 draws from table 0's own distribution: the payload is within 1% (plus the final words) of −Σ log2 p.
    tables = _tables()
    p = tables.row(0)[:-1] / tables.row(0)[:-1].sum()
    values = np.random.default_rng(0).choice(np.arange(-6, 7), size=20000, p=p)
    w = Writer()
    w.write(values, np.zeros(values.size, np.int64), tables)
    data = w.finish()
    expected = -np.log2(tables.row(0)[values + 6] / 2**PRECISION).sum()
    assert w.ideal_bits == pytest.approx(expected, rel=1e-9)
    assert 8 * len(data) == pytest.approx(expected, rel=0.01, abs=64)


def test_tables_sum_to_the_precision_and_follow_their_distribution():
    tables = _tables()
    for t in range(len(tables)):
        row = tables.row(t)
        assert row.sum() == 2**PRECISION and row.min() >= 1
    v = np.arange(-6, 7)
    exact = norm.cdf(v + 0.5, scale=2.0) - norm.cdf(v - 0.5, scale=2.0)
    assert np.abs(tables.row(0)[:-1] / 2**PRECISION - exact).max() < 2e-4  # 13 symbols + escape at 16 bits


def _payload():
    tables = _tables()
    values = np.random.default_rng(1).integers(-9, 9, 500)
    index = np.random.default_rng(2).integers(0, 3, 500)
    w = Writer()
    w.write(values, index, tables)
    return w.finish(), index, tables


@pytest.mark.parametrize("damage", ["truncate", "extend", "flip", "odd"])
def test_damaged_payloads_are_one_sentence(damage):
    data, index, tables = _payload()
    bad = {"truncate": data[:-8], "extend": data + bytes(8), "flip": data[:8] + bytes([data[8] ^ 0x5A]) + data[9:], "odd": data[:-1]}[damage]
    with pytest.raises(CorruptBitstream) as info:
        r = Reader(bad, index.size)
        r.read(index, tables)
        r.finish()
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_a_count_the_payload_cannot_hold_is_refused_before_any_work():
    with pytest.raises(CorruptBitstream, match="cannot hold"):
        Reader(bytes(8), 10**15)
