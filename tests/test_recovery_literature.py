"""The audit's comparison with Ding et al. (IJCV 2021): who is expected to recover, and why a run differs."""

from __future__ import annotations

from dataclasses import replace

import torch

import rdpkit
from rdpkit.recovery.literature import expectation, explain, luma_psnr
from rdpkit.recovery.optimise import Trajectory
from rdpkit.recovery.run import recover_many
from rdpkit.recovery.verdict import NOT_CONVERGED, Verdict

LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


class LumaOnly(rdpkit.Distortion):
    """MSE of luminance: colour is invisible to it, as to a gray-level metric given colour images."""

    def _distance(self, x, x_hat):
        w = LUMA.to(x)
        return ((x * w).sum(1) - (x_hat * w).sum(1)).pow(2).flatten(1).mean(1)


def test_only_the_metrics_ding_et_al_report_on_have_an_expectation():
    assert expectation("ms-ssim").metric == "MS-SSIM" and expectation("pyiqa-nlpd").metric == "NLPD"
    assert expectation("rdpkit:ms-ssim").verdict == "recovered" and expectation("pyiqa-dists,as_loss=true").metric == "DISTS"
    assert expectation("mse") is None and expectation("lpips-alex,pretrained=false") is None and expectation("pooled-mse") is None


def test_a_luminance_only_metric_is_explained_by_its_colour():
    (r,) = recover_many(LumaOnly(), [("builtin:astronaut", "noise")], size=32, steps=300, device="cpu")
    r = replace(r, distortion="test-nlpd")  # as if it were the NLPD Ding et al. report on
    assert r.verdict.label != "recovered" and luma_psnr(r) > 30 > r.psnr
    assert "the luminance came back" in explain(r)


def test_a_dead_start_is_explained_by_its_zero_gradient():
    (r,) = recover_many("mse", [("builtin:astronaut", "noise")], size=32, steps=5, device="cpu")
    dead = replace(r, distortion="ms-ssim", verdict=Verdict(NOT_CONVERGED, "stuck"),
                   trajectory=Trajectory(r.trajectory.step, r.trajectory.distortion, r.trajectory.psnr, r.trajectory.ssim, [1] * len(r.trajectory.step)))
    assert explain(dead).startswith("a dead start: D's gradient is exactly zero on 1 channel(s)")
    assert explain(replace(r, distortion="ms-ssim", verdict=Verdict("recovered", "as expected"))) == "", "agreement needs no explanation"
