"""The measurement layer (rdpkit.measures): one place that measures decoded images for every harness."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio
from test_trial_layer import _imports

import rdpkit
from rdpkit.data import load_image, load_images
from rdpkit.degrade import degrade
from rdpkit.errors import InputError
from rdpkit.evaluate import evaluate, write
from rdpkit.evaluate.report import summary_frame
from rdpkit.evaluate.trial import EvaluateResult
from rdpkit.interfaces import Critic
from rdpkit.measures import Measures
from rdpkit.options import Component
from rdpkit.patches import patches
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.plane import measure as plane_measure
from rdpkit.sweep.runner import run_sweep
from rdpkit.store import Store
from rdpkit.sweep.trial import SweepTrial


class Brightness(Critic):
    """A plugin's no-reference measure: the mean intensity of each image (for the tests, lower is 'better')."""

    def _score(self, x):
        return x.flatten(1).mean(1)


@rdpkit.hookimpl
def rdpkit_critics() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("brightness", Brightness, summary="mean intensity")]


@pytest.fixture
def registry(rdpkit_registry):
    rdpkit_registry.register(sys.modules[__name__], "brightness-plugin")
    return rdpkit_registry


def _pair(size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    x = load_images(["builtin:astronaut", "builtin:coffee"], size=size)
    return x, degrade(x, "gaussian:0.05", seed=0)


def test_per_image_values_equal_scikit_image_and_the_components_themselves(registry):
    x, y = _pair()
    meter = Measures(distortions=(Component("mse"),), critics=(Component("brightness"),), psnr=True).meter(registry)
    meter.update(x[:1], y[:1], ["astronaut"])
    meter.update(x[1:], y[1:], ["coffee"])
    m = meter.compute()
    to_np = [t.permute(1, 2, 0).double().numpy() for t in (*x, *y)]
    for i, name in enumerate(("astronaut", "coffee")):
        row = m.rows()[i]
        assert row["image"] == name
        assert row["mse"] == pytest.approx(mean_squared_error(to_np[i], to_np[i + 2]), rel=1e-5)  # float32 images
        assert row["psnr-rgb"] == pytest.approx(peak_signal_noise_ratio(to_np[i], to_np[i + 2], data_range=1.0), abs=1e-4)
        assert row["brightness"] == pytest.approx(float(y[i].mean()), rel=1e-6)
    assert m.columns["psnr-rgb"].higher_is_better and not m.columns["mse"].higher_is_better
    assert m.distortions["mse"].n == 2 and m.critics["brightness"].mean == pytest.approx(float(y.flatten(1).mean(1).mean()), rel=1e-6)


def test_an_exact_decoding_has_psnr_capped_at_100_db(registry):
    x, _ = _pair(32)
    meter = Measures(psnr=True).meter(registry)
    assert meter.update(x, x)["psnr-rgb"] == [100.0, 100.0]


def test_an_index_is_reported_as_the_index_under_compressais_name_when_asked(registry):
    x, y = _pair(192)
    plain = Measures(distortions=(Component("ms-ssim"),)).meter(registry)
    papers = Measures(distortions=(Component("ms-ssim"),), similarities=True).meter(registry)
    d = plain.update(x, y)["ms-ssim"]
    s = papers.update(x, y)["ms-ssim-rgb"]
    assert s == pytest.approx([1 - v for v in d], abs=1e-12)
    column = papers.compute().columns["ms-ssim-rgb"]
    assert column.higher_is_better and column.bounds == (0.0, 1.0) and column.component == "ms-ssim"


def test_patch_divergences_equal_the_divergence_on_the_patches_themselves(registry):
    x = [load_image("builtin:astronaut", size=96), load_image("builtin:coffee", size=128)]  # two sizes: only patches compare
    y = [degrade(t, "blur:1.5") for t in x]
    c = Component("wasserstein-sliced")
    meter = Measures(divergences=(c,), patch=32).meter(registry, seed=3)
    for a, b in zip(x, y):
        meter.update(a, b)
    got = meter.compute().divergences[str(c)]
    torch.manual_seed(3)
    expected = registry.create("divergence", c.name, seed=3).estimate(torch.cat([patches(t, 32) for t in x]), torch.cat([patches(t, 32) for t in y]), seed=3)
    assert got.value == pytest.approx(expected.value, rel=1e-6) and got.n == expected.n


def test_whole_images_of_several_sizes_cannot_be_compared_as_a_set(registry):
    meter = Measures(divergences=(Component("wasserstein-sliced"),)).meter(registry)
    meter.update(load_image("builtin:astronaut", size=32), load_image("builtin:astronaut", size=32))
    meter.update(load_image("builtin:coffee", size=48), load_image("builtin:coffee", size=48))
    with pytest.raises(InputError, match="compare their patches instead"):
        meter.compute()


def test_critics_that_must_be_trained_and_empty_meters_are_one_sentence(registry):
    with pytest.raises(InputError, match="must be trained on real and decoded images"):
        Measures(critics=(Component("wgan-gp"),)).check(registry)
    with pytest.raises(InputError, match="nothing was measured"):
        Measures(psnr=True).meter(registry).compute()
    with pytest.raises(InputError, match="bootstrap must be 0"):
        Measures(bootstrap=1).check(registry)


def test_a_measure_a_plugin_adds_appears_in_a_sweep_an_evaluation_and_the_plane(registry, tmp_path):
    """No harness names the plugin's critic: it reaches every output through the measurement layer alone."""
    config = SweepConfig.from_dict({"sweep": {"name": "m"}, "data": {"source": "builtin:astronaut,coffee,chelsea", "size": 32, "split": [0, 0, 1]},
                                    "codec": [{"name": "jpeg", "grid": {"quality": [10, 60]}}],
                                    "evaluate": {"distortions": ["mse"], "perception": "wasserstein-sliced", "critics": ["brightness"], "samples": 0}})
    run_sweep(config, tmp_path / "sweep.sqlite", registry=registry, progress=False)
    with Store(tmp_path / "sweep.sqlite", readonly=True) as db:
        rows = [SweepTrial.result_from_row(db, row).row() for row in db.trials()]  # type: ignore[union-attr]
    assert len(rows) == 2 and all(math.isfinite(r["C.brightness"]) for r in rows)

    evaluation = evaluate(["jpeg,quality=[10,60]"], "builtin:held-out", distortions=[], critics=["brightness"], features=None,
                          store=tmp_path / "e.sqlite", progress=False, registry=registry)
    out = write(evaluation, tmp_path / "e")
    assert "brightness" in (out.parent / "per-image.csv").read_text().splitlines()[0]
    assert "brightness" in (out.parent / "summary.csv").read_text().splitlines()[0]
    assert all("brightness" in row for row in json.loads(json.dumps(summary_frame(evaluation).to_dict(orient="records"))))
    result = json.loads((out.parent / "results" / "jpeg.json").read_text())
    assert len(result["results"]["brightness"]) == 2 and "brightness" not in result["meta"]["higher_is_better"]
    for figure in ("pd-brightness.png", "crops.png"):  # the plane of the new measure, and the decoded crops
        assert (out.parent / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure in out.read_text()

    x, y = _pair(32)
    points = plane_measure(x, {"noisy": y, "same": x}, perception="brightness", progress=False, registry=registry)
    assert points[0].perception == pytest.approx(float(y.flatten(1).mean(1).mean()), rel=1e-6)


def test_an_evaluation_stored_before_results_declared_their_columns_still_reads():
    record = {"images": [{"image": "a.png", "height": 8, "width": 8, "bytes": 100, "bpp": 12.5, "psnr-rgb": 30.0, "ms-ssim-rgb": 0.9,
                          "lpips-alex": 0.2, "encoding_time": 0.01, "decoding_time": 0.02}],
              "patch_scores": None, "device": "cpu", "software": {}, "components": {}}
    result = EvaluateResult.from_record(record, {})
    assert result.images[0].values == {"psnr-rgb": 30.0, "ms-ssim-rgb": 0.9, "lpips-alex": 0.2}
    assert result.higher_is_better() == ["psnr-rgb", "ms-ssim-rgb", "ms-ssim-db-rgb"]
    assert result.summary()["ms-ssim-db-rgb"] == pytest.approx(10.0)
    assert result.images[0].as_dict() == {**record["images"][0], "payload_bpp": None}  # the payload was not recorded then


#: The layers of CONTRIBUTING.md ("Where things live"), bottom up; a module may import its own layer and those below, never a harness or the CLI.
HARNESSES = ("rdpkit.sweep", "rdpkit.recovery", "rdpkit.evaluate", "rdpkit.judge", "rdpkit.cli")


def test_no_module_below_the_harnesses_imports_one():
    root = Path(rdpkit.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name in ("rdpkit", "rdpkit.__main__") or name.startswith(HARNESSES):
            continue
        package = name if parts[-1] == "__init__" else ".".join(parts[:-1])
        offenders += [f"{name} imports {m}" for m in _imports(path, package) if m.startswith(HARNESSES)]
    assert not offenders, offenders
    measures = [p for p in (root / "measures").rglob("*.py")]
    assert all(not m.startswith(("rdpkit.trial", "rdpkit.store")) for p in measures for m in _imports(p, "rdpkit.measures"))


def _pairs_layout(text: str):
    """A plugin's dataset layout: a folder holding exactly two PNG files, ``pairs:PATH``."""
    from rdpkit.datasets import Dataset

    files = sorted(Path(text).glob("*.png"))
    if len(files) != 2:
        raise InputError(f"the pairs folder {text!r} holds {len(files)} PNG files; it needs exactly 2.")
    return Dataset("pairs", tuple(str(f) for f in files), f"pairs:{text}", text)


@rdpkit.hookimpl
def rdpkit_dataset_layouts() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("pairs", _pairs_layout, summary="two PNG files")]


def test_a_plugin_adds_a_dataset_layout_that_evaluate_reads(registry, tmp_path):
    from rdpkit.data import save_png
    from rdpkit.datasets import dataset

    folder = tmp_path / "pairs"
    save_png(load_image("builtin:astronaut", size=48), folder / "a.png")
    with pytest.raises(InputError, match="holds 1 PNG files; it needs exactly 2"):
        dataset(f"pairs:{folder}", registry)
    save_png(load_image("builtin:coffee", size=48), folder / "b.png")
    evaluation = evaluate(["jpeg,quality=[20,80]"], f"pairs:{folder}", distortions=[], features=None, store=tmp_path / "e.sqlite",
                          progress=False, registry=registry)
    assert evaluation.dataset.name == "pairs" and [len(p) for p in evaluation.curves.values()] == [2]
    with pytest.raises(InputError, match="unknown dataset layout 'pair'; did you mean 'pairs'"):
        dataset(f"pair:{folder}", registry)
    assert "pairs" in registry.names("layout") and "kodak" in registry.names("layout")
    from rdpkit.judge import make_fixture

    csiq = make_fixture("csiq", tmp_path / "csiq", size=8)
    with pytest.raises(InputError, match="'csiq' is a set of human judgments, not of photographs to code"):
        dataset(f"csiq:{csiq}", registry)
