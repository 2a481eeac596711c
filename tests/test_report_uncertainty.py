"""Uncertainty decides nothing by itself (issue 24, item 3), and the sweep report shows every measure (item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_hex

from rdpkit.cli import cli
from rdpkit.pareto import indistinguishable, non_dominated, samples_to_resolve
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.plane import PlanePoint, plane_frame, write_plane
from rdpkit.sweep.report import fig_pd, fig_rd, fig_samples, open_store, results_frame, settings_frame, write_report
from rdpkit.sweep.runner import run_sweep

# The docs' split of 5 test photographs: six settings within 0.23 of each other in perception, standard errors near 9.7.
PERCEPTION = [21.36, 21.59, 21.41, 21.52, 21.47, 21.44]
DISTORTION = [0.0040, 0.0031, 0.0036, 0.0030, 0.0033, 0.0034]


def test_a_difference_inside_its_interval_dominates_nothing():
    points = np.c_[DISTORTION, PERCEPTION]
    assert not non_dominated(points).all(), "point estimates alone call some of them dominated"
    stderr = np.c_[[0.0004] * 6, [9.7] * 6]
    assert non_dominated(points, stderr).all(), "no difference in perception is outside its interval"
    clear = np.array([[1.0, 5.0], [2.0, 9.0], [1.0, 5.0]])
    assert non_dominated(clear, np.full((3, 2), 0.1)).tolist() == [True, False, True], "a clear difference still dominates; equal rows do not"
    assert non_dominated(clear, np.c_[[0.0] * 3, [np.nan] * 3]).tolist() == [True, True, True], "an unknown standard error decides nothing"


def test_ties_and_the_samples_that_would_resolve_them():
    tie = indistinguishable([1.0, 2.0, 5.0], [1.0, 1.0, 0.01])
    assert tie.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    need = samples_to_resolve([1.0, 2.0, 5.0], [1.0, 1.0, 0.01], 10)
    expected = np.ceil(10 * (1.959963984540054 * np.sqrt(2) / 1.0) ** 2)
    assert need.tolist() == [expected, expected, 0.0]
    assert samples_to_resolve([1.0, 1.0], [0.5, 0.5], 4).tolist() == [np.inf, np.inf], "equal values are never resolved"


def test_the_plane_page_says_which_perception_values_are_indistinguishable(tmp_path):
    points = [PlanePoint(f"s{i}", d, 0.0004, p, 9.7, 0.5 + i, 5) for i, (d, p) in enumerate(zip(DISTORTION, PERCEPTION))]
    df = plane_frame(points)
    assert df.admissible.all() and (df.perception_ties == 5).all()
    assert (df.perception_samples_to_resolve > 1e5).all(), "a difference of 0.01 under standard errors of 9.7 needs hundreds of thousands"
    page = write_plane(points, tmp_path, fr="mse", perception="wasserstein-critic").read_text()
    assert "6 of 6 algorithms have a perception index that the 95% interval of the difference cannot tell" in page
    assert "samples per set" in page


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "s.sqlite"
    cfg = SweepConfig.from_dict({"data": {"source": "digits", "limit": 120},
                                 "codec": [{"name": "sq", "grid": {"levels": [2, 4, 16]}}, {"name": "jpeg", "grid": {"quality": [10, 50, 90]}}],
                                 "evaluate": {"distortions": ["mse", "charbonnier"], "perception": "wasserstein-sliced",
                                              "divergences": ["wasserstein-sliced", "mmd"], "samples": 8}})
    run_sweep(cfg, path, executor="inline", progress=False)
    return path


def test_each_codec_has_its_own_colour_and_the_legend_names_codecs(store):
    s = settings_frame(results_frame(store))
    rd = fig_rd(s).axes[0]
    curves = {line.get_label().split(":")[0]: to_hex(line.get_color()) for line in rd.get_lines() if "R-D curve (" in line.get_label()}
    assert set(curves) == {"sq", "jpeg"} and len(set(curves.values())) == 2, curves
    legend = [t.get_text() for t in fig_pd(s).axes[0].get_legend().get_texts()]
    assert len(legend) == 3 and legend[0].startswith("sq") and legend[1].startswith("jpeg"), legend


def test_the_samples_figure_has_no_empty_rows(store):
    s = settings_frame(results_frame(store))
    with open_store(store) as db:
        fig = fig_samples(s, db)
    width, height = fig.get_size_inches()
    rows = len(fig.axes) // max(1, round(len(fig.axes) / 7))  # originals + six rate settings, one column (no perception weight)
    assert len(fig.axes) == 7 and rows == 7
    assert height < 7 * 1.0, f"{height:.2f} inches for seven rows of 8×71-pixel strips"


def test_every_declared_measure_is_on_the_page_and_report_prints_no_python_warning(store, tmp_path):
    page = write_report(store, tmp_path / "r").read_text()
    for name in ("charbonnier", "mmd", "every declared measure: divergences"):
        assert name in page, name
    assert "n/a: " not in page, "reasons are footnotes, not paragraphs in table cells"
    result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output and "bdrate.py" not in result.output, result.output
    assert "beside them" not in result.output
