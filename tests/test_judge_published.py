"""Published agreement values: every row parses, values in range, spot checks against the sources."""

from __future__ import annotations

import csv
import importlib.util
import math

import pytest

from rdpkit.judge import published as pub
from rdpkit.judge.published import (
    CORRELATIONS,
    STATISTICS,
    PublishedValue,
    published,
    sources,
)

LAYOUTS = {"tid2013", "tid2008", "csiq", "live", "kadid-10k", "pipal", "koniq-10k", "spaq",
           "live-challenge", "bapps-2afc", "bapps-jnd"}
# Datasets a source reports that rdpkit has no layout for, kept under the source's name.
UNLAID = {"flive", "koniq10k-1024"}


def test_every_row_parses_and_names_a_known_source_statistic_and_dataset():
    names = {s.name for s in sources()}
    for file in {s.file for s in sources()}:
        with open(pub.FOLDER / file, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows, file
        for row in rows:
            assert row["source"] in names, row
            assert row["statistic"] in STATISTICS, row
            assert row["dataset"] in LAYOUTS | UNLAID, row
            assert math.isfinite(float(row["value"])), row
    values = published()
    assert sum(1 for _ in values) == 339
    assert all(isinstance(v, PublishedValue) for v in values)


def test_values_in_range():
    for v in published():
        if v.statistic in CORRELATIONS:
            assert -1.0 <= v.value <= 1.0, v
        else:
            assert 0.0 <= v.value <= 1.0, v


def test_counts_per_source():
    fr = [v for v in published() if v.source == "pyiqa-fr"]
    nr = [v for v in published() if v.source == "pyiqa-nr"]
    assert len(fr) == 11 * 4 * 3  # 11 metrics × csiq, live, tid2008, tid2013 × PLCC/SRCC/KRCC
    assert len(nr) == 207  # 69 filled cells × 3
    assert {v.dataset for v in fr} == {"csiq", "live", "tid2008", "tid2013"}


def _one(dataset, metric, statistic, source=None):
    found = [v for v in published(dataset, metric) if v.statistic == statistic and (source is None or v.source == source)]
    assert len(found) == 1, found
    return found[0].value


# Read in chaofengc/IQA-PyTorch at 0d0007338caacc9bf208207d93dc09ea59a32883:
# tests/FR_benchmark_results.csv, row `ssim`, column tid2013: "0.6558/0.6269/0.455";
# row `ms_ssim`, column csiq: "0.7717/0.9125/0.7372"; row `lpips`, column live: "0.7672/0.869/0.6768";
# row `dists`, column tid2008: "0.7032/0.6648/0.4861".
# tests/NR_benchmark_results.csv, row `topiq_nr`, column koniq10k: "0.9436/0.9299/0.7727";
# row `clipiqa+`, column koniq10k-1024: "0.909/0.8954/0.7181".
@pytest.mark.parametrize("dataset, metric, statistic, value", [
    ("tid2013", "ssim", "srcc", 0.6269),
    ("tid2013", "ssim", "plcc-raw", 0.6558),
    ("tid2013", "ssim", "krcc", 0.455),
    ("csiq", "ms_ssim", "srcc", 0.9125),
    ("csiq", "ms_ssim", "plcc-raw", 0.7717),
    ("live", "lpips", "srcc", 0.869),
    ("tid2008", "dists", "krcc", 0.4861),
    ("koniq-10k", "topiq_nr", "srcc", 0.9299),
    ("koniq10k-1024", "clipiqa+", "plcc-raw", 0.909),
])
def test_spot_checks_against_the_source(dataset, metric, statistic, value):
    assert _one(dataset, metric, statistic) == value


def test_tid2013_is_in_both_tables_as_different_rows():
    # TID2013 appears in the FR table (psnr…) and in the NR table (critics): the source tells them apart.
    assert _one("tid2013", "psnr", "srcc", "pyiqa-fr") == 0.6869
    assert _one("tid2013", "brisque", "srcc", "pyiqa-nr") == 0.3672


def test_filters():
    assert {v.metric for v in published(metric="pyiqa-ms-ssim")} == {"ms_ssim"}
    assert published(metric="ms_ssim") == published(metric="pyiqa-ms-ssim")
    assert {v.dataset for v in published("live-challenge")} == {"live-challenge"}
    assert {v.source_dataset for v in published("live-challenge")} == {"livec"}
    assert published("no-such-dataset") == []


def test_protocol_says_plcc_is_without_the_fit():
    for s in sources():
        assert "without a logistic fit" in s.protocol
        assert len(s.version) == 40 and s.version in s.reference
        assert s.licence and (pub.FOLDER / s.file).is_file()
    assert all(v.statistic != "plcc-logistic" for v in published())
    v = published("tid2013", "ssim")[0]
    assert v.protocol == sources()[0].protocol
    assert v.comparable == ("ssim",)


def test_parse_pyiqa_table_reads_the_source_format():
    text = ("Metric name,csiq(PLCC/SRCC/KRCC),live(PLCC/SRCC/KRCC)\n"
            "ssim,0.765/0.8367/0.6323,0.7369/0.8509/0.6547\n"
            "nima,,0.4993/0.5071/0.348\n")
    rows = pub.parse_pyiqa_table(text, "test")
    assert rows[:3] == [("ssim", "csiq", "plcc-raw", "0.765"), ("ssim", "csiq", "srcc", "0.8367"),
                        ("ssim", "csiq", "krcc", "0.6323")]
    assert len(rows) == 9
    with pytest.raises(ValueError, match="not PLCC/SRCC/KRCC"):
        pub.parse_pyiqa_table("Metric name,a(PLCC/SRCC/KRCC)\nx,0.1/0.2\n", "test")
    with pytest.raises(ValueError, match="Metric name"):
        pub.parse_pyiqa_table("name,a\n", "test")


def test_stored_rows_agree_with_parsing_the_source_format():
    # Rebuild the source's own layout from the stored rows and parse it back: nothing lost or reordered.
    for source in ("pyiqa-fr", "pyiqa-nr"):
        rows = [v for v in published() if v.source == source]
        datasets = list(dict.fromkeys(v.source_dataset for v in rows))
        metrics = list(dict.fromkeys(v.metric for v in rows))
        cell = {}
        with open(pub.FOLDER / "pyiqa.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["source"] == source:
                    cell.setdefault((row["metric"], row["source_dataset"]), []).append(row["value"])
        lines = ["Metric name," + ",".join(f"{d}(PLCC/SRCC/KRCC)" for d in datasets)]
        lines += [m + "," + ",".join("/".join(cell.get((m, d), [])) for d in datasets) for m in metrics]
        parsed = pub.parse_pyiqa_table("\n".join(lines), source)
        assert [(m, d, s, float(x)) for m, d, s, x in parsed] == [
            (v.metric, v.source_dataset, v.statistic, v.value) for v in rows]


def test_rdpkit_names_are_registered_components():
    if importlib.util.find_spec("rdpkit_pyiqa") is None:
        pytest.skip("the rdpkit-pyiqa plugin is not installed")
    from rdpkit_pyiqa.catalog import rdpkit_name

    import rdpkit

    registry = rdpkit.get_registry()
    names = set(registry.names("distortion")) | set(registry.names("critic"))
    mapped = {v.metric: v.rdpkit_metric for v in published()}
    for metric, name in mapped.items():
        if name is not None:
            assert name in names, (metric, name)
            assert name == rdpkit_name(metric)
        else:
            assert rdpkit_name(metric) not in names, metric
    fr = {v.rdpkit_metric for v in published() if v.source == "pyiqa-fr"}
    assert fr <= set(registry.names("distortion"))


def test_comparable_names_are_registered_distortions():
    import rdpkit

    names = set(rdpkit.get_registry().names("distortion"))
    for metric, comparable in pub.COMPARABLE.items():
        assert published(metric=metric), metric
        for name in comparable:
            if name.startswith("lpips") and importlib.util.find_spec("rdpkit_lpips") is None:
                continue
            assert name in names, name
