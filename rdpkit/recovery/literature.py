"""What Ding et al. (IJCV 2021, section 3.1) found in their reference-recovery experiment, and why rdpkit may differ.

Ding, Ma, Wang & Simoncelli optimised images to minimise each full-reference model's distance to
a reference, and report that the models built on injective maps (MS-SSIM, NLPD, DISTS) bring
the reference back, while models whose maps are surjective converge to images they score as
perfect that are not the reference. Only those three are listed here as "recovers"; for every
other metric rdpkit states no expectation rather than guess one.

`explain` says, from a run's own numbers, why its verdict differs from that expectation: a
start where the gradient is exactly zero, a metric that sees only luminance, or too few steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..interfaces import psnr
from .result import RecoveryResult
from .verdict import BLIND_SPOT, NOT_CONVERGED, RECOVERED

CITATION = "Ding, Ma, Wang & Simoncelli, Comparison of Full-Reference Image Quality Models for Optimization of Image Processing Systems, IJCV 2021, section 3.1"
#: Metric families (as rdpkit and its plugins name them) that Ding et al. found to recover the reference.
RECOVERS = {"ms-ssim": "MS-SSIM", "nlpd": "NLPD", "dists": "DISTS"}
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Expectation:
    metric: str  # as the paper names it
    verdict: str  # what the paper found, in rdpkit's labels


def expectation(distortion: str) -> Expectation | None:
    """Ding et al.'s finding for a distortion (by its rdpkit name, with or without a plugin's prefix), if they report one."""
    name = distortion.split(",", 1)[0].rpartition(":")[2]
    for family, paper_name in RECOVERS.items():
        if name == family or name.endswith(f"-{family}"):
            return Expectation(paper_name, RECOVERED)
    return None


def luma_psnr(r: RecoveryResult) -> float | None:
    """PSNR of y*'s luminance against x's (colour images only)."""
    if r.reference.shape[1] != 3:
        return None
    weights = torch.tensor(_LUMA, dtype=torch.float64).view(1, 3, 1, 1)
    luma = [(t.double() * weights).sum(1, keepdim=True) for t in (r.reference, r.final)]
    return float(psnr(*luma)[0])


def explain(r: RecoveryResult) -> str:
    """Why this run's verdict differs from Ding et al.'s finding ('' when it does not, or when they report none)."""
    expected = expectation(r.distortion)
    if expected is None or r.verdict.label == expected.verdict:
        return ""
    t = r.trajectory
    if r.verdict.label == NOT_CONVERGED and t.dead_channels and t.dead_channels[0] > 0:
        return (f"a dead start: D's gradient is exactly zero on {t.dead_channels[0]} channel(s) of the initial image (seed {r.seed}), "
                "so those pixels never move; another seed or initialisation starts where the gradient lives")
    luma = luma_psnr(r)
    if luma is not None and luma >= r.thresholds.psnr_db > r.psnr:
        return (f"the luminance came back ({luma:.1f} dB) but the colour did not ({r.psnr:.1f} dB over RGB): this implementation compares "
                "luminance only, so every colour with the reference's luminance scores as perfect")
    if r.verdict.label == NOT_CONVERGED:
        return (f"not there yet after {r.steps:,} steps of the {r.profile.name} profile; Ding et al. ran 20,000 "
                "(rdpkit audit --profile ding)")
    if r.verdict.label == BLIND_SPOT:
        return "D reached the level it gives near-identical copies of x at an image that is not x: a blind spot of this implementation"
    return ""
