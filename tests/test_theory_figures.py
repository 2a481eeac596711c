"""The theory figures draw the closed forms they claim to, and save as PNG and SVG."""

from __future__ import annotations

import numpy as np

from rdpkit.theory import bernoulli_rdp, gaussian_drp_w2, perception_distortion_linear
from rdpkit.theory.figures import (
    bernoulli_rd_figure,
    bernoulli_rdp_figure,
    gaussian_figure,
    perception_distortion_figure,
    render,
    save,
)


def _lines(fig):
    return {line.get_label(): line.get_data() for ax in fig.axes for line in ax.get_lines()}


def test_rd_curves_are_the_closed_form():
    lines = _lines(bernoulli_rd_figure(0.2, [0.0, 0.05]))
    D, R = lines["P = 0.05"]
    np.testing.assert_allclose(R, bernoulli_rdp(D, 0.05, 0.2))


def test_gaussian_and_perception_distortion_curves_are_the_closed_forms():
    R, D = _lines(gaussian_figure(sigma=2.0))["D(R, 0), perfect realism"]
    np.testing.assert_allclose(D, gaussian_drp_w2(R, 0.0, 2.0))
    D, P = _lines(perception_distortion_figure((1.0,)))["σ_N = 1"]
    np.testing.assert_allclose(P, perception_distortion_linear(D, 1.0))


def test_surface_figure_has_three_panels_and_saves(tmp_path):
    fig = bernoulli_rdp_figure(0.1, n=30)
    assert len(fig.axes) == 3
    paths = save(render(fig, "surface"), tmp_path / "new")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 1000 for p in paths)
