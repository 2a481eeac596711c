"""The evaluation protocol: patches, FID/KID against torchmetrics, datasets, result files, `rdpkit evaluate` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import rdpkit
from rdpkit.anchors import from_dict, published, published_names, read
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.datasets import dataset
from rdpkit.evaluate import bd_frame, evaluate, expand, write
from rdpkit.patches import patch_positions, patches
from rdpkit.store import Store


@pytest.mark.parametrize(
    "height, width, expected",
    [
        (512, 768, 6 + 2),  # Kodak landscape: a 2×3 grid and, shifted by 128, a 1×2 grid
        (768, 512, 6 + 2),
        (400, 600, 2 + 1),  # both sides ≥ 384: the shifted grid adds one
        (300, 500, 1),  # one side < 384: no shifted grid
        (255, 1000, 0),
        (383, 383, 1),
        (384, 384, 1 + 1),
    ],
)
def test_patch_counts_on_odd_sizes(height, width, expected):
    positions = patch_positions(height, width)
    assert len(positions) == expected
    assert all(0 <= r <= height - 256 and 0 <= c <= width - 256 for r, c in positions)
    assert len(set(positions)) == len(positions)


def test_patches_are_the_image_quantised_to_8_bits():
    x = torch.rand(2, 3, 400, 600, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p = patches(x)
    assert p.shape == (6, 3, 256, 256)
    assert torch.equal(p * 255, (p * 255).round()), "patches hold 8-bit values"
    assert torch.allclose(p[0], x[0, :, :256, :256], atol=0.5 / 255) and torch.allclose(p[-1], x[1, :, 128:384, 128:384], atol=0.5 / 255)


class Identity(torch.nn.Module):
    """Feeds feature vectors through torchmetrics unchanged, so the comparison needs no weights."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x):
        return x


def test_fid_and_kid_equal_torchmetrics_on_the_same_features():
    pytest.importorskip("torchmetrics")
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(400, 16, generator=g), torch.randn(300, 16, generator=g) * 1.2 + 0.1
    fid = FrechetInceptionDistance(feature=Identity(16), normalize=True)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    ours_fid = rdpkit.divergence("frechet").estimate(real.double(), fake.double()).value
    assert ours_fid == pytest.approx(float(fid.compute()), rel=1e-4)
    # KID on sets of equal size, one subset holding all of them: torchmetrics' draw cannot change the value.
    equal = KernelInceptionDistance(feature=Identity(16), subsets=1, subset_size=300, normalize=True)
    equal.update(real[:300], real=True)
    equal.update(fake, real=False)
    assert rdpkit.divergence("kid").estimate(real[:300].double(), fake.double()).value == pytest.approx(float(equal.compute()[0]), rel=1e-5)


def test_kid_subsets_fit_the_number_of_patches():
    g = torch.Generator().manual_seed(2)
    est = rdpkit.divergence("kid", subsets=50, subset_size=1000).estimate(torch.randn(40, 8, generator=g).double(), torch.randn(60, 8, generator=g).double())
    assert est.details["subset_size"] == 40 and est.details["subsets"] == 50 and np.isfinite(est.value) and est.stderr > 0


def test_every_published_result_file_loads_and_round_trips(tmp_path):
    names = published_names()
    assert len(names) == 50 and {"vtm", "jpeg", "webp", "compressai-mbt2018-mean_mse_cpu"} <= set(names)
    for name in names:
        f = published(name)
        bpp = f.values("bpp")
        assert len(bpp) >= 4 and (bpp > 0).all() and any(m in f.measures for m in ("psnr-rgb", "ms-ssim-db-rgb"))
    vtm = published("vtm")
    assert np.allclose(vtm.values("ms-ssim-db"), -10 * np.log10(1 - vtm.values("ms-ssim-rgb")))
    again = read(vtm.write(tmp_path / "vtm.json"))
    assert again == vtm and json.loads((tmp_path / "vtm.json").read_text())["results"]["bpp"] == vtm.results["bpp"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"results": {"psnr-rgb": [30, 31]}}, "has no 'bpp' list"),
        ({"results": {"bpp": [0.1, 0.2], "psnr-rgb": [30]}}, "different lengths"),
        ({"results": {"bpp": [0.1, "x"]}}, "must be a list of numbers"),
        ([1, 2], "not in CompressAI's results format"),
    ],
)
def test_a_bad_result_file_is_one_sentence(data, message):
    with pytest.raises(rdpkit.InputError, match=message):
        from_dict(data)


def test_bd_table_of_the_published_files_against_vtm():
    files = [published("vtm"), published("jpeg"), published("compressai-mbt2018-mean_mse_cpu")]
    bd = bd_frame(files, "published:vtm").set_index(["codec", "metric"])
    jpeg, mbt = "published:jpeg", "published:compressai-mbt2018-mean_mse_cpu"
    assert bd.loc[(jpeg, "psnr-rgb"), "bd_rate_%"] > 100, "JPEG needs more than twice VTM's rate at equal PSNR"
    assert 0 < bd.loc[(mbt, "psnr-rgb"), "bd_rate_%"] < bd.loc[(jpeg, "psnr-rgb"), "bd_rate_%"]
    assert bd.loc[(jpeg, "psnr-rgb"), "bd_metric"] < 0, "and less PSNR at equal rate"


def _write_images(folder: Path, names: list[str], size: tuple[int, int]) -> None:
    for i, name in enumerate(names):
        save_png(load_image(["builtin:astronaut", "builtin:coffee", "builtin:chelsea"][i % 3], size=size), folder / name)


def test_dataset_layouts_and_their_refusals(tmp_path):
    kodak = tmp_path / "kodak"
    for i in range(1, 24):  # flat images of Kodak's sizes: only the headers are read
        save_png(torch.full((1, 3, 512, 768) if i % 2 else (1, 3, 768, 512), 0.5), kodak / f"kodim{i:02d}.png")
    with pytest.raises(rdpkit.InputError, match="lacks 1 of its 24 images \\(first kodim24.png\\)"):
        dataset(f"kodak:{kodak}")
    _write_images(kodak, ["kodim24.png"], (32, 48))
    with pytest.raises(rdpkit.InputError, match="kodim24.png in the kodak folder .* is 48×32, but every Kodak image is 768×512 or 512×768"):
        dataset(f"kodak:{kodak}")
    save_png(torch.full((1, 3, 512, 768), 0.5), kodak / "kodim24.png")
    assert len(dataset(f"kodak:{kodak}").images) == 24
    with pytest.raises(rdpkit.InputError, match="does not exist; download the dataset"):
        dataset(f"div2k:{tmp_path / 'nope'}")
    div2k = tmp_path / "DIV2K_valid_HR"
    _write_images(div2k, [f"{i:04d}.png" for i in range(801, 811)], (16, 16))
    with pytest.raises(rdpkit.InputError, match="lacks 90 of the 100 images 0801–0900 \\(first 0811.png\\)"):
        dataset(f"div2k:{div2k}")
    clic = tmp_path / "clic" / "professional" / "valid"
    _write_images(clic, ["a.png", "b.png"], (16, 16))
    with pytest.raises(rdpkit.InputError, match="holds 2 images, but CLIC 2020 professional valid has 41"):
        dataset(f"clic2020:{tmp_path / 'clic'}")
    assert dataset("builtin:held-out").images == ("builtin:astronaut", "builtin:coffee", "builtin:china")
    with pytest.raises(rdpkit.InputError, match="did you mean 'kodak'"):
        dataset("kodac:/x")


def test_codec_settings_from_lists():
    label, settings = expand("webp,method=6,quality=[10,50]")
    assert label == "webp,method=6" and [str(s) for s in settings] == ["webp,method=6,quality=10", "webp,method=6,quality=50"]


def test_evaluate_end_to_end_resumes_and_keeps_what_finished(tmp_path):
    folder = tmp_path / "images"
    _write_images(folder, ["a.png", "b.png"], (256, 320))
    kw = dict(distortions=["ms-ssim"], features="nss,patch=32", store=tmp_path / "s.sqlite", executor="inline", progress=False)
    ev = evaluate(["jpeg,quality=[20,60]", "sq,levels=[8,32]"], str(folder), anchors=["published:jpeg"], **kw)
    assert ev.summary.ran == 4 and not ev.failed
    page = write(ev, tmp_path / "out")
    summary = {s["setting"]: s for s in pd.read_csv(tmp_path / "out" / "summary.csv").to_dict(orient="records")}
    x = load_image(folder / "a.png")
    data = rdpkit.codec("jpeg", quality=20).encode(x).to_bytes()
    per_image = pd.read_csv(tmp_path / "out" / "per-image.csv")
    row = per_image[(per_image.setting == "jpeg,quality=20") & (per_image.image == "a.png")].iloc[0]
    assert row.bpp == pytest.approx(8 * len(data) / (256 * 320)) and row.bytes == len(data)
    assert summary["jpeg,quality=20"]["psnr-rgb"] < summary["jpeg,quality=60"]["psnr-rgb"] and summary["jpeg,quality=60"]["patches"] == 2
    jpeg = read(tmp_path / "out" / "results" / "jpeg.json")
    assert jpeg.values("bpp").tolist() == sorted(jpeg.values("bpp")) and {"psnr-rgb", "ms-ssim-rgb"} <= set(jpeg.results)
    # Two patches per setting: FID and KID are in the table with why, never drawn nor compared.
    assert not {"fid", "kid"} & set(jpeg.results) and "fewer than" in summary["jpeg,quality=20"]["unreliable"]
    assert not (tmp_path / "out" / "rd-kid.png").exists() and "kid curve and BD of jpeg" in page.read_text()
    assert jpeg.meta["feature_kind"] == "hand-crafted"
    assert "hand-crafted features: not comparable with Inception FID" in page.read_text()
    assert (tmp_path / "out" / "rd-psnr-rgb.png").stat().st_size > 1000 and (tmp_path / "out" / "bd.csv").exists()
    again = evaluate(["jpeg,quality=[20,60]", "sq,levels=[8,32]"], str(folder), **kw)
    assert again.summary.ran == 0 and again.summary.already_done == 4


def test_a_setting_that_fails_on_one_image_loses_nothing_that_finished(tmp_path):
    folder = tmp_path / "images"
    _write_images(folder, ["a.png"], (64, 64))
    save_png(torch.full((1, 3, 8, 16400), 0.5), folder / "wide.png")  # wider than WebP allows
    kw = dict(distortions=[], features=None, store=tmp_path / "s.sqlite", executor="inline", progress=False)
    ev = evaluate(["jpeg,quality=[30]", "webp,quality=[30]"], str(folder), **kw)
    assert list(ev.curves) == ["jpeg"] and list(ev.failed) == ["webp,quality=30"]
    assert "16383" in ev.failed["webp,quality=30"] and "Traceback" not in ev.failed["webp,quality=30"]
    with Store(tmp_path / "s.sqlite", readonly=True) as db:
        assert [t.status for t in db.trials()] == ["done", "failed"]


def test_too_few_patches_for_kid_is_one_sentence(tmp_path):
    folder = tmp_path / "images"
    _write_images(folder, ["a.png"], (300, 300))
    with pytest.raises(rdpkit.InputError, match="hold 1 patch\\(es\\) of 256×256; FID and KID need at least 2"):
        evaluate(["jpeg"], str(folder), distortions=[], features="nss", store=tmp_path / "s.sqlite", executor="inline", progress=False)


def test_the_commands(tmp_path):
    folder = tmp_path / "images"
    _write_images(folder, ["a.png", "b.png"], (64, 96))
    out = CliRunner().invoke(cli, ["evaluate", "--codec", "jpeg,quality=[20,50,80]", "--data", str(folder), "--distortion", "mse",
                                   "--features", "none", "--out", str(tmp_path / "out"), "--executor", "inline", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert [r["setting"] for r in rows] == ["jpeg,quality=20", "jpeg,quality=50", "jpeg,quality=80"]
    bd = CliRunner().invoke(cli, ["bd", "--anchor", "published:vtm", "--curve", "published:webp", "--curve", str(tmp_path / "out" / "results" / "jpeg.json"), "--json"])
    assert bd.exit_code == 0, bd.output
    by_codec = {json.loads(line)["codec"]: json.loads(line) for line in bd.output.splitlines()}
    assert set(by_codec) == {"published:webp", "jpeg"} and by_codec["published:webp"]["psnr-rgb"] == pytest.approx(78.7, abs=0.1)


def test_report_and_results_read_evaluations_from_the_store(tmp_path):
    folder = tmp_path / "images"
    _write_images(folder, ["a.png"], (64, 64))
    evaluate(["jpeg,quality=[20,60]"], str(folder), distortions=[], features=None, store=tmp_path / "s.sqlite", executor="inline", progress=False)
    out = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "rep"), "--anchor", "published:jpeg"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "rep" / "evaluate" / "index.html").exists() and (tmp_path / "rep" / "evaluate" / "results" / "jpeg.json").exists()
    bd = pd.read_csv(tmp_path / "rep" / "evaluate" / "bd.csv")
    assert set(bd.anchor) == {"published:jpeg"}
    rows = [json.loads(line) for line in CliRunner().invoke(cli, ["results", "--store", str(tmp_path / "s.sqlite"), "--json"]).output.splitlines()]
    assert [r["kind"] for r in rows] == ["evaluate", "evaluate"] and rows[0]["components"]["codec"].startswith("rdpkit ")


def test_a_stored_evaluation_reads_back_as_the_same_trials_with_components_equal_to_those_asked_for(tmp_path):
    from rdpkit.evaluate.run import from_store
    from rdpkit.options import Component
    from rdpkit.store import Store

    asked = ["webp,method=6,quality=[10,60]"]
    divergence = 'frechet,extractor="nss,patch=16"'
    evaluation = evaluate(asked, "builtin:astronaut,coffee", distortions=["mse"], critics=["niqe,patch=32"], divergences=[divergence],
                          divergence_patch=32, features=None, store=tmp_path / "e.sqlite", progress=False)
    with Store(tmp_path / "e.sqlite", readonly=True) as db:
        again = from_store(db)
    original = {t.key: t for points in evaluation.curves.values() for t, _ in points}
    read = {t.key: t for points in again.curves.values() for t, _ in points}
    assert read.keys() == original.keys() and len(read) == 2
    for key, t in read.items():
        assert t.codec == original[key].codec and t.divergences == (Component.parse(divergence),)
        assert Component.parse(str(t.divergences[0])) == t.divergences[0] and t.critics == (Component("niqe", {"patch": 32}),)
    summary = next(iter(again.curves.values()))[0][1].summary()
    assert {"mse", "niqe,patch=32", divergence, "psnr-rgb"} <= summary.keys()


def test_a_distortion_that_cannot_take_the_smallest_image_is_refused_before_any_coding(tmp_path):
    """MS-SSIM needs 161×161 (five scales of its 11×11 window): on 64×64 images every trial would fail after coding."""
    from rdpkit.data import save_png

    g = torch.Generator().manual_seed(0)
    (tmp_path / "imgs").mkdir()
    for i in range(2):
        save_png(torch.rand(1, 3, 64, 64, generator=g), tmp_path / "imgs" / f"{i}.png")
    store = tmp_path / "e.sqlite"
    with pytest.raises(rdpkit.InputError, match=r"distortion 'ms-ssim' needs images of at least 161×161, but the smallest here is 64 pixels a side"):
        evaluate(["jpeg,quality=50"], str(tmp_path / "imgs"), distortions=["ms-ssim"], features=None, store=store, executor="inline", progress=False)
    assert not store.exists()


def test_the_resolution_is_what_the_originals_read_against_themselves_and_is_drawn_and_said(tmp_path):
    """`Evaluation.resolution`: the divergence of the originals against an exact copy, with the settings' patches,
    bootstrap and seed, checked against the estimator called on the same patches by hand; the P-D page says it, and
    resolution.csv holds it. Without a bootstrap there is no interval, so no resolution."""
    divergence = 'frechet,extractor="nss,patch=16"'
    kw = {"distortions": ["mse"], "divergences": [divergence], "divergence_patch": 32, "features": None, "executor": "inline", "progress": False}
    evaluation = evaluate(["jpeg,quality=[10,60]"], "builtin:astronaut,coffee", bootstrap=20, store=tmp_path / "e.sqlite", **kw)
    floor = evaluation.resolution()[divergence]
    real = torch.cat([patches(load_image(f"builtin:{n}"), 32) for n in ("astronaut", "coffee")])
    real = torch.round(real * 255) / 255  # the meter keeps patches as 8 bits
    by_hand = rdpkit.divergence("frechet", extractor="nss,patch=16").estimate(real, real.clone(), bootstrap=20, seed=0)
    assert floor.value == 0 and floor.n == by_hand.n == real.shape[0]
    assert floor.ci == pytest.approx(by_hand.ci, rel=1e-6) and floor.ci[1] > 0
    assert evaluation.resolution() is evaluation.resolution(), "measured once"
    page = write(evaluation, tmp_path / "out").read_text()
    assert f"read 0 [0, {floor.ci[1]:.3g}]" in page and "cannot be told from perfect realism" in page
    assert pd.read_csv(tmp_path / "out" / "resolution.csv").ci_high.item() == pytest.approx(floor.ci[1])
    plain = evaluate(["jpeg,quality=[10,60]"], "builtin:astronaut,coffee", store=tmp_path / "f.sqlite", **kw)
    assert plain.resolution() == {}
    write(plain, tmp_path / "plain")
    assert not (tmp_path / "plain" / "resolution.csv").exists()


def test_a_report_from_a_store_whose_images_are_gone_is_written_without_the_resolution(tmp_path):
    """The resolution reads the originals again; a store reported where they are no longer at hand still gives its page,
    with the resolution listed as left out and why."""
    import shutil

    from rdpkit.evaluate.run import from_store

    (tmp_path / "imgs").mkdir()
    for name in ("astronaut", "coffee"):
        save_png(load_image(f"builtin:{name}", size=96), tmp_path / "imgs" / f"{name}.png")
    evaluate(["jpeg,quality=[10,60]"], str(tmp_path / "imgs"), distortions=["mse"], divergences=['frechet,extractor="nss,patch=16"'],
             divergence_patch=32, bootstrap=10, features=None, store=tmp_path / "e.sqlite", executor="inline", progress=False)
    shutil.rmtree(tmp_path / "imgs")
    with Store(tmp_path / "e.sqlite", readonly=True) as db:
        again = from_store(db)
    page = write(again, tmp_path / "out").read_text()
    assert again.resolution() == {} and "the originals could not be read again" in again.left_out["resolution of the divergences"]
    assert "resolution of the divergences" in page and not (tmp_path / "out" / "resolution.csv").exists()
