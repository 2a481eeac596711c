"""Published agreement values (what others measured), read from the data bundled with rdpkit.

`published(dataset=None, metric=None)` gives one `PublishedValue` per number; `sources()` gives
where each source's numbers come from, under what licence, and by which protocol. The numbers live
in ``published/*.csv`` (one value a row; their provenance in ``published/README.md``) and are read
with the csv module once, on first use.

Statistics are named so that a measured value is only ever compared with a published one of the
same definition:

- ``srcc``, ``krcc``: Spearman's ρ and Kendall's τ of the scores against MOS/DMOS;
- ``plcc-raw``: Pearson's r of the raw scores, without any fit (pyiqa's PLCC);
- ``plcc-logistic``: Pearson's r after the monotonic 5-parameter logistic of VQEG;
- ``2afc``: the share of judges agreeing with the metric's choice (BAPPS 2AFC, LPIPS paper);
- ``jnd-map``: mean average precision on BAPPS JND.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FOLDER = Path(__file__).parent / "published"

STATISTICS: dict[str, str] = {
    "srcc": "Spearman rank-order correlation with MOS",
    "krcc": "Kendall rank-order correlation with MOS",
    "plcc-raw": "Pearson correlation of the raw scores with MOS, without a logistic fit",
    "plcc-logistic": "Pearson correlation with MOS after the monotonic 5-parameter logistic (VQEG)",
    "2afc": "share of human judges agreeing with the metric's choice (BAPPS 2AFC)",
    "jnd-map": "mean average precision of same/different (BAPPS JND)",
}
CORRELATIONS = ("srcc", "krcc", "plcc-raw", "plcc-logistic")

# rdpkit components that compute the metric a source names, by another implementation: their values
# are comparable with the published ones but not expected to agree to the last digit. The exact
# counterpart (the same implementation) is `PublishedValue.rdpkit_metric`.
COMPARABLE: dict[str, tuple[str, ...]] = {
    "ssim": ("ssim",),
    "ms_ssim": ("ms-ssim",),
    "lpips": ("lpips-alex",),
}


@dataclass(frozen=True)
class Source:
    """Where one source's numbers come from."""

    name: str
    title: str
    reference: str
    version: str
    licence: str
    protocol: str
    file: str


@dataclass(frozen=True)
class PublishedValue:
    """One published number: `metric` as the source names it, `dataset` as rdpkit's layout names it."""

    source: str
    metric: str
    rdpkit_metric: str | None
    dataset: str
    source_dataset: str
    statistic: str
    value: float
    protocol: str
    subset: str = ""

    @property
    def comparable(self) -> tuple[str, ...]:
        """rdpkit components computing the same named metric by another implementation."""
        return COMPARABLE.get(self.metric, ())


_PYIQA_PROTOCOL = (
    "pyiqa benchmark: whole images, official weights where they exist; PLCC of the raw scores "
    "without a logistic fit (plcc-raw); scores of lower-is-better metrics negated first; "
    "values rounded to 4 decimals"
)
_PYIQA_LICENCE = (
    "numbers (facts) from chaofengc/IQA-PyTorch, whose LICENSE is CC BY-NC-SA 4.0 as stored "
    "(reported changed to PolyForm Noncommercial 1.0.0 in 2026-04); kept with attribution"
)

SOURCES: tuple[Source, ...] = (
    Source(
        name="pyiqa-fr",
        title="pyiqa full-reference benchmark (FR_benchmark_results.csv)",
        reference="https://github.com/chaofengc/IQA-PyTorch/blob/0d0007338caacc9bf208207d93dc09ea59a32883/tests/FR_benchmark_results.csv",
        version="0d0007338caacc9bf208207d93dc09ea59a32883",
        licence=_PYIQA_LICENCE,
        protocol=_PYIQA_PROTOCOL,
        file="pyiqa.csv",
    ),
    Source(
        name="pyiqa-nr",
        title="pyiqa no-reference benchmark (NR_benchmark_results.csv)",
        reference="https://github.com/chaofengc/IQA-PyTorch/blob/0d0007338caacc9bf208207d93dc09ea59a32883/tests/NR_benchmark_results.csv",
        version="0d0007338caacc9bf208207d93dc09ea59a32883",
        licence=_PYIQA_LICENCE,
        protocol=_PYIQA_PROTOCOL,
        file="pyiqa.csv",
    ),
)


def sources() -> list[Source]:
    """Every source of published values, in a fixed order."""
    return list(SOURCES)


def parse_pyiqa_table(text: str, source: str) -> list[tuple[str, str, str, str]]:
    """pyiqa's benchmark CSV as (metric, source dataset, statistic, value as written) rows.

    Each cell of pyiqa's table is ``PLCC/SRCC/KRCC`` (e.g. ``0.765/0.8367/0.6323``) under a column
    headed ``<dataset>(PLCC/SRCC/KRCC)``; an empty cell is a value not measured. The PLCC is
    without a logistic fit, hence ``plcc-raw``.
    """
    rows = list(csv.reader(text.splitlines()))
    if not rows or not rows[0] or rows[0][0] != "Metric name":
        raise ValueError(f"{source}: not a pyiqa benchmark table (first header is not 'Metric name')")
    suffix = "(PLCC/SRCC/KRCC)"
    datasets = []
    for column in rows[0][1:]:
        if not column.endswith(suffix):
            raise ValueError(f"{source}: column {column!r} does not end in {suffix}")
        datasets.append(column[: -len(suffix)])
    out = []
    for row in rows[1:]:
        if not row:
            continue
        for dataset, cell in zip(datasets, row[1:]):
            if not cell.strip():
                continue
            values = cell.split("/")
            if len(values) != 3:
                raise ValueError(f"{source}: {row[0]} on {dataset}: {cell!r} is not PLCC/SRCC/KRCC")
            for statistic, value in zip(("plcc-raw", "srcc", "krcc"), values):
                float(value)
                out.append((row[0], dataset, statistic, value))
    return out


@lru_cache(maxsize=1)
def _all() -> tuple[PublishedValue, ...]:
    protocols = {s.name: s.protocol for s in SOURCES}
    values = []
    for file in sorted({s.file for s in SOURCES}):
        with open(FOLDER / file, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                values.append(PublishedValue(
                    source=row["source"],
                    metric=row["metric"],
                    rdpkit_metric=row["rdpkit_metric"] or None,
                    dataset=row["dataset"],
                    source_dataset=row["source_dataset"],
                    statistic=row["statistic"],
                    value=float(row["value"]),
                    protocol=protocols[row["source"]],
                    subset=row.get("subset") or "",
                ))
    return tuple(values)


def published(dataset: str | None = None, metric: str | None = None) -> list[PublishedValue]:
    """Published values, optionally only those of one dataset (rdpkit's layout name) and one metric.

    `metric` matches the source's name (``ms_ssim``) or the rdpkit component (``pyiqa-ms-ssim``).
    """
    return [
        v for v in _all()
        if (dataset is None or v.dataset == dataset)
        and (metric is None or metric in (v.metric, v.rdpkit_metric))
    ]
