"""rdpkit.report's tables: a wide table keeps the columns that tell its rows apart; the rest are said once above it."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from rdpkit.report import Page, split_constant

cells = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "fast"]), st.floats(0, 1, allow_nan=False))


@given(st.integers(1, 5).flatmap(lambda width: st.lists(st.lists(cells, min_size=width, max_size=width), min_size=0, max_size=6)),
       st.sets(st.integers(0, 4)))
@example(rows=[[0, 0, 0], [0, 0, 0.0]], keep=set())  # equal values of two types are one value (both print as 0)
def test_the_folded_columns_and_the_rows_give_back_the_whole_table(rows, keep):
    width = len(rows[0]) if rows else 3
    columns = [f"c{i}" for i in range(width)]
    kept, cut, same = split_constant(columns, rows, keep=[f"c{i}" for i in keep])
    assert kept + list(same) == [c for c in columns if c in kept] + [c for c in columns if c in same]
    assert sorted(kept + list(same)) == sorted(columns)
    for row, short in zip(rows, cut):
        assert {**dict(zip(kept, short)), **same} == dict(zip(columns, row))
    # a column that varies is never folded, and one asked to be kept never is
    for i, c in enumerate(columns):
        if any(r[i] != rows[0][i] for r in rows) or (c in {f"c{k}" for k in keep}):
            assert c in kept
    if len(rows) < 2:
        assert not same


def test_a_report_table_states_the_constant_columns_once():
    html = Page("t").varying_table(["image", "profile", "psnr"], [["astronaut", "fast", 31.5], ["coffee", "fast", 28.25]], keep=["image"]).render()
    assert "The same in every row: profile fast." in html
    assert "<th>profile</th>" not in html and "<th>psnr</th>" in html and "28.25" in html
