"""`rdpkit judge` end to end on fixture folders written from the real label files.

The test plugin below brings an oracle distortion whose scores are the fixture's own MOS plus
noise (looked up by image content), a distortion of pure noise, and small dataset layouts (the
first items of a real label file) so that a whole run takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import rdpkit
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.errors import InputError, UnknownNameError
from rdpkit.interfaces import Distortion
from rdpkit.judge import LAYOUTS, make_fixture
from rdpkit.judge.report import bapps_rows, write
from rdpkit.judge.run import judge

#: content digest of a rated image → its MOS (filled by the fixture below).
ORACLE: dict[str, float] = {}
SMALL = 150


def _digest(x: torch.Tensor) -> str:
    return hashlib.sha256(torch.round(x.detach().double().cpu() * 255).numpy().astype(np.uint8).tobytes()).hexdigest()


def _noise(key: str, scale: float) -> float:
    return scale * (int(key[:8], 16) / 0xFFFFFFFF - 0.5)


class Oracle(Distortion):
    """7 − MOS plus a little noise: lower when people rated the image higher."""

    def _distance(self, x, x_hat):
        keys = [_digest(y) for y in x_hat]
        return torch.tensor([7.0 - ORACLE[k] + _noise(k, 0.3) for k in keys], dtype=x.dtype)


class Coin(Distortion):
    """A number that has nothing to do with quality."""

    def _distance(self, x, x_hat):
        return torch.tensor([_noise(_digest(y), 1.0) + 0.5 for y in x_hat], dtype=x.dtype)


def _small(name: str):
    return lambda text: LAYOUTS[name].load(text, limit=SMALL)


def _every_20th(text: str):
    """Every 20th image of TID2013: 150 images of all 25 references, so the bootstrap has its 25 groups."""
    full = LAYOUTS["tid2013"].load(text)
    return replace(full, items=full.items[::20])


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("oracle", Oracle, summary="MOS plus noise"), rdpkit.Spec("coin", Coin, summary="noise")]


@rdpkit.hookimpl
def rdpkit_dataset_layouts() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("tid2013-small", _every_20th, summary="every 20th image of tid2013"),
            *(rdpkit.Spec(f"{name}-small", _small(name), summary=f"the first {SMALL} items of {name}") for name in ("koniq-10k", "bapps-2afc"))]


@pytest.fixture
def registry(rdpkit_registry):
    rdpkit_registry.register(sys.modules[__name__], "judge-test")
    return rdpkit_registry


@pytest.fixture(scope="module")
def tid(tmp_path_factory):
    folder = make_fixture("tid2013", tmp_path_factory.mktemp("tid"), size=16)
    for item in _every_20th(str(folder)).items:
        ORACLE[_digest(load_image(item.image))] = item.score
    return folder


def test_an_oracle_agrees_with_people_and_noise_does_not(registry, tid, tmp_path):
    judgement = judge(["oracle", "coin"], [f"tid2013-small:{tid}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    page, tables = write(judgement, tmp_path / "out", n_boot=300)
    rows = {r["metric"]: r for r in tables["agreement"]}
    assert rows["oracle"]["n"] == SMALL and rows["oracle"]["srcc"] > 0.95 and rows["oracle"]["plcc_logistic"] > 0.95
    coin = rows["coin"]
    assert abs(coin["srcc"]) < 0.25 and coin["srcc_low"] < 0 < coin["srcc_high"], coin
    (difference,) = tables["differences"]
    assert difference["a"] == "oracle" and difference["low"] > 0 and difference["real"] == "yes"
    assert {r["metric"] for r in tables["types"]} == {"oracle", "coin"}
    for name in ("per-image.csv", "agreement.csv", "types.csv", "differences.csv", "scatter-tid2013-oracle.png"):
        assert (page.parent / name).stat().st_size > 0 and name in page.read_text()


def test_a_rerun_resumes_and_a_new_metric_runs_alone(registry, tid, tmp_path):
    store = tmp_path / "j.sqlite"
    first = judge(["oracle"], [f"tid2013-small:{tid}"], store=store, progress=False, registry=registry)
    assert first.summary.ran == 1  # 150 images: one chunk
    again = judge(["oracle", "coin"], [f"tid2013-small:{tid}"], store=store, progress=False, registry=registry)
    assert again.summary.already_done == 1 and again.summary.ran == 1
    assert again.scored["tid2013", "oracle"].scores == first.scored["tid2013", "oracle"].scores


def test_an_image_the_metric_cannot_read_is_listed_and_the_rest_scored(registry, tid, tmp_path):
    import shutil

    folder = tmp_path / "tid"
    shutil.copytree(tid, folder)
    bad = _every_20th(str(folder)).items[7]
    save_png(load_image(bad.image)[..., :8, :8], bad.image)  # reads, but not at its reference's size (a file that does not read: test_skipped_images)
    judgement = judge(["mse"], [f"tid2013-small:{folder}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    scored = judgement.scored["tid2013", "mse"]
    assert scored.scores[7] is None and sum(s is None for s in scored.scores) == 1
    assert bad.image in scored.errors and "mse scored no value for" in scored.refused()
    page, tables = write(judgement, tmp_path / "out", n_boot=50)
    assert tables["agreement"][0]["n"] == SMALL - 1 and "scored no value" in page.read_text()


def test_metrics_that_cannot_be_judged_on_a_set_are_one_sentence(registry, tmp_path):
    koniq = make_fixture("koniq-10k", tmp_path / "k", size=24, limit=SMALL)
    bapps = make_fixture("bapps-2afc", tmp_path / "b", size=24, limit=SMALL)
    with pytest.raises(InputError, match="has no reference images, so the distortion 'mse' cannot score it"):
        judge(["mse"], [f"koniq-10k-small:{koniq}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    with pytest.raises(InputError, match="no-reference critic such as 'niqe' cannot answer"):
        judge(["niqe"], [f"bapps-2afc-small:{bapps}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    with pytest.raises(UnknownNameError, match="did you mean 'mse'"):
        judge(["msee"], [f"bapps-2afc-small:{bapps}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)


def test_bapps_2afc_is_scored_per_subset_with_intervals(registry, tmp_path):
    bapps = make_fixture("bapps-2afc", tmp_path / "b", size=24, limit=SMALL)
    judgement = judge(["mse"], [f"bapps-2afc-small:{bapps}"], store=tmp_path / "j.sqlite", progress=False, registry=registry)
    rows = bapps_rows(judgement, "bapps-2afc", n_boot=100)
    subsets = judgement.datasets["bapps-2afc"].subsets()
    assert [r["subset"] for r in rows] == [*subsets, "all"]
    assert all(0 <= r["low"] <= r["2afc"] <= r["high"] <= 1 for r in rows) and rows[-1]["n"] == len(judgement.datasets["bapps-2afc"]) == 6 * SMALL


def test_the_command_writes_json_lines_and_the_page(tmp_path):
    csiq = make_fixture("csiq", tmp_path / "csiq", size=24)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["judge", "--metric", "mse", "--data", f"csiq:{csiq}", "--bootstrap", "50", "--out", str(out),
                                      "--executor", "inline", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    (agreement,) = [r for r in rows if r["table"] == "agreement"]
    assert agreement["dataset"] == "csiq" and agreement["n"] == 866 and -1 <= agreement["srcc"] <= 1 and agreement["references"] == 30
    assert (out / "index.html").exists() and (out / "judge.sqlite").exists()
