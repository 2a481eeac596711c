"""`rdpkit bd` and the BD table of `rdpkit evaluate` on hostile or awkward inputs: every row says its number or why there is none."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import rdpkit
from rdpkit.anchors import MAX_BYTES, ResultFile, published, read
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.datasets import dataset
from rdpkit.evaluate import bd_frame, evaluate, write
from rdpkit.evaluate.report import file_stems
from rdpkit.evaluate.trial import EvaluateResult, ImageRow

VTM = published("vtm")
BPP, PSNR = VTM.values("bpp").tolist(), VTM.values("psnr-rgb").tolist()


def _curve(tmp_path: Path, name: str, results: dict[str, list[float]], **extra: object) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "results": results, **extra}))
    return str(path)


def _bd(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(cli, ["bd", *args])
    assert "Traceback" not in out.output and not isinstance(out.exception, (KeyError, TypeError, RecursionError)), out.output
    return out.exit_code, out.output


@pytest.mark.parametrize(
    "results, why",
    [
        ({"bpp": [0.1, 0.2, 0.3], "psnr-rgb": [50.0, 51.0, 52.0]}, "share no metric value interval"),
        ({"bpp": [0.5], "psnr-rgb": [33.0]}, "needs at least 2"),
        ({"bpp": [0.2, float("nan"), 0.8], "psnr-rgb": [30.0, 33.0, 36.0]}, "positive finite rates"),
        ({"bpp": [0.2, 0.4, float("inf")], "psnr-rgb": [30.0, 33.0, 36.0]}, "positive finite rates"),
        ({"bpp": [-0.2, 0.4, 0.8], "psnr-rgb": [30.0, 33.0, 36.0]}, "positive finite rates"),
        ({"bpp": [0.2, 0.4, 0.8], "psnr-rgb": [30.0, 33.0, 33.0]}, "does not move one way"),
        ({"bpp": [0.2, 0.4, 0.8], "psnr-rgb": [30.0, 36.0, 33.0]}, "does not move one way"),
        ({"bpp": [0.2, 0.4, 0.8], "psnr-rgb": [36.0, 33.0, 30.0]}, "gets worse as the rate rises"),
    ],
)
def test_a_curve_that_allows_no_comparison_is_a_row_that_says_why(tmp_path, results, why):
    # Before: KeyError 'bd_rate_%' (no comparison possible) or a number (+28.6 %) for a non-monotone or decreasing curve.
    path = _curve(tmp_path, "odd", results)
    code, output = _bd("--anchor", "published:vtm", "--curve", path, "--metric", "psnr-rgb", "--json")
    assert code == 0
    (row,) = [json.loads(line) for line in output.splitlines()]
    assert row["codec"] == "odd" and row["psnr-rgb"] is None and why in row["notes"][0]
    code, output = _bd("--anchor", "published:vtm", "--curve", path, "--metric", "psnr-rgb", "--csv", str(tmp_path / "bd.csv"))
    assert code == 0 and "odd" in output and "n/a" in output and why in " ".join(output.split())
    assert why in pd.read_csv(tmp_path / "bd.csv").note[0]


def test_older_keys_aliases_and_unknown_metrics(tmp_path):
    # CompressAI's older files name the columns psnr and ms-ssim: before, an empty table with exit 0.
    old = _curve(tmp_path, "old", {"bpp": [b * 1.1 for b in BPP], "psnr": PSNR, "ms-ssim": VTM.values("ms-ssim-rgb").tolist()})
    code, output = _bd("--anchor", "published:vtm", "--curve", old, "--json")
    row = json.loads(output)
    assert code == 0 and row["psnr-rgb"] == pytest.approx(10, abs=0.01) and row["ms-ssim-db-rgb"] == pytest.approx(10, abs=0.01)
    code, output = _bd("--anchor", "published:vtm", "--curve", old, "--metric", "psnr", "--json")
    assert json.loads(output)["psnr-rgb"] == pytest.approx(10, abs=0.01)
    code, output = _bd("--anchor", "published:vtm", "--curve", old, "--metric", "lpips")
    assert code != 0 and "no curve holds 'lpips'" in output


def test_ms_ssim_above_one_missing_measures_and_little_overlap_are_said(tmp_path):
    ms = VTM.values("ms-ssim-rgb")
    above = _curve(tmp_path, "above", {"bpp": BPP, "ms-ssim-rgb": (ms + 0.1).tolist()})
    psnr_only = _curve(tmp_path, "psnr-only", {"bpp": BPP, "psnr-rgb": PSNR})
    edge = _curve(tmp_path, "edge", {"bpp": [b * 0.9 for b in BPP], "psnr-rgb": [p + (PSNR[-1] - PSNR[0]) * 0.8 for p in PSNR]})
    code, output = _bd("--anchor", "published:vtm", "--curve", above, "--curve", psnr_only, "--curve", edge, "--json")
    rows = {r["codec"]: r for r in map(json.loads, output.splitlines())}
    assert code == 0 and set(rows) == {"above", "psnr-only", "edge"}
    assert "leave [0, 1], so they are no ms-ssim-rgb" in rows["above"]["notes"][-1] and rows["above"]["ms-ssim-db-rgb"] is None
    assert rows["psnr-only"]["notes"][-1] == "ms-ssim-db-rgb: n/a: psnr-only holds no ms-ssim-db-rgb"
    assert "psnr-rgb: the dataset of psnr-only is not stated" in rows["psnr-only"]["notes"][0]
    assert rows["edge"]["psnr-rgb"] is not None and "share 20% of the shorter one" in rows["edge"]["notes"][0]
    code, output = _bd("--anchor", "published:vtm", "--curve", edge)
    assert "share 20% of the shorter one" in " ".join(output.split())


@pytest.mark.parametrize(
    "text, why",
    [
        ("[" * 100_000 + "]" * 100_000, "nests JSON too deeply"),
        (json.dumps({"meta": [1, 2], "results": {"bpp": [0.1, 0.2]}}), "'meta' must be a table"),
        (json.dumps({"meta": {"higher_is_better": 3}, "results": {"bpp": [0.1, 0.2]}}), "must be a list of measure names"),
    ],
)
def test_a_hostile_result_file_is_one_sentence(tmp_path, text, why):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(rdpkit.InputError, match=why):
        read(path)
    code, output = _bd("--anchor", str(path), "--curve", "published:jpeg")
    assert code != 0 and why in output


def test_a_huge_result_file_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text('{"results": {"bpp": [' + "0.1, " * (MAX_BYTES // 5) + "0.1]}}")
    start = time.perf_counter()
    with pytest.raises(rdpkit.InputError, match="larger than 4 MiB"):
        read(path)
    assert time.perf_counter() - start < 1


def test_an_anchor_of_another_dataset_gives_no_number_and_kodak_is_checked(tmp_path):
    # Before: +60 % against published Kodak curves on three other photographs, without a word.
    ours = ResultFile("jpeg", "", {"bpp": [b * 1.1 for b in BPP], "psnr-rgb": PSNR}, {"source": "rdpkit", "dataset": "builtin-held-out"})
    row = bd_frame([VTM, ours], VTM.name, metrics=["psnr"]).iloc[0]
    assert np.isnan(row["bd_rate_%"]) and "measured on kodak and jpeg on builtin-held-out" in row.note and row.dataset == "builtin-held-out"
    unstated = ResultFile("mine", "", {"bpp": [b * 1.1 for b in BPP], "psnr-rgb": PSNR})
    row = bd_frame([VTM, unstated], VTM.name, metrics=["psnr"]).iloc[0]
    assert row["bd_rate_%"] == pytest.approx(10, abs=0.01) and "the dataset of mine is not stated" in row.note
    folder = tmp_path / "kodak"
    folder.mkdir()
    image = load_image("builtin:astronaut", size=320)
    for i in range(1, 25):
        save_png(image, folder / f"kodim{i:02d}.png")
    with pytest.raises(rdpkit.InputError, match="kodim01.png in the kodak folder .* is 320×320, but every Kodak image is 768×512 or 512×768"):
        dataset(f"kodak:{folder}")


def test_payload_bpp_beside_container_bpp_and_used_against_published_curves(tmp_path):
    folder = tmp_path / "images"
    save_png(load_image("builtin:astronaut", size=(64, 96)), folder / "a.png")
    ev = evaluate(["jpeg,quality=[20,50,80]"], str(folder), distortions=[], features=None, store=tmp_path / "s.sqlite", executor="inline", progress=False)
    write(ev, tmp_path / "out")
    x = load_image(folder / "a.png")
    bits = rdpkit.codec("jpeg", quality=20).encode(x)
    row = pd.read_csv(tmp_path / "out" / "per-image.csv").set_index("setting").loc["jpeg,quality=20"]
    assert row.payload_bpp == pytest.approx(8 * len(bits.payload) / (64 * 96)) and row.payload_bpp < row.bpp
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert (summary.payload_bpp < summary.bpp).all()
    ours = read(tmp_path / "out" / "results" / "jpeg.json")
    assert ours.values("payload_bpp").tolist() == sorted(ours.values("payload_bpp")) and "payload_bpp" not in ours.axes
    theirs = ResultFile("bare", "", {"bpp": ours.values("payload_bpp").tolist(), "psnr-rgb": ours.values("psnr-rgb").tolist()})
    row = bd_frame([theirs, ours], "bare", metrics=["psnr-rgb"]).iloc[0]
    assert row.rate == "payload bpp vs file bpp" and row["bd_rate_%"] == pytest.approx(0, abs=1e-9)
    # A result stored before the payload was kept reads as unknown, and a BD against bare files says the container is counted.
    old = {k: v for k, v in ev.curves["jpeg"][0][1].images[0].as_dict().items() if k != "payload_bpp"}
    assert ImageRow.from_dict(old).payload_bpp is None
    result = ev.curves["jpeg"][0][1]
    assert "payload_bpp" not in EvaluateResult.from_record({**result.to_record()[0], "images": [old]}, {}).summary()
    legacy = ResultFile("jpeg", "", {k: v for k, v in ours.results.items() if k != "payload_bpp"}, ours.meta)
    row = bd_frame([theirs, legacy], "bare", metrics=["psnr-rgb"]).iloc[0]
    assert row.rate == "container bpp vs file bpp" and "states no payload bpp" in row.note and row["bd_rate_%"] > 0


def test_result_file_names_are_unique(tmp_path):
    long = "x" * 100
    stems = file_stems([long + "a", long + "b", "jpeg", "JPEG", "a/b", "a_b"])
    assert len({s.casefold() for s in stems}) == 6 and stems[2] == "jpeg" and stems[5] == "a_b"
    folder = tmp_path / "images"
    save_png(load_image("builtin:coffee", size=(48, 48)), folder / "a.png")
    ev = evaluate(["jpeg,quality=[30]", "sq,levels=[8]"], str(folder), distortions=[], features=None, store=tmp_path / "s.sqlite",
                  executor="inline", progress=False)
    ev.curves = {long + "-jpeg": ev.curves["jpeg"], long + "-sq": ev.curves["sq"]}
    write(ev, tmp_path / "out")
    assert sorted(read(p).name for p in (tmp_path / "out" / "results").glob("*.json")) == [long + "-jpeg", long + "-sq"]


def test_one_dataset_typed_three_ways_is_one_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_png(load_image("builtin:coffee", size=(48, 48)), tmp_path / "ds" / "a.png")
    kw = {"distortions": [], "features": None, "store": tmp_path / "s.sqlite", "executor": "inline", "progress": False}
    first = evaluate(["jpeg,quality=[30]"], "ds", **kw)
    assert first.summary.ran == 1
    for typed in ("./ds/", str(tmp_path / "ds")):
        again = evaluate(["jpeg,quality=[30]"], typed, **kw)
        assert again.summary.ran == 0 and again.summary.already_done == 1 and again.dataset.name == first.dataset.name
