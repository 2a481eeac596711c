"""Codecs on the perception-distortion plane of the held-out photographs: the measurement behind the hific acceptance
test, the README's figures and `rdpkit-learned-codecs realism`.

Each held-out photograph (astronaut, coffee, china, at full resolution) is coded on its own
(rdpkit.codecs.measure.round_trip, rate from the bytes; a stochastic decoder under `seed`).
Per codec:

- distortion: the MSE of each image (mean, standard error over the images) and the PSNR;
- perception, a divergence: between the 64×64 patches of the originals and of the decoded
  images (rdpkit.patches: a grid from the corner and one shifted by half a patch, quantised
  to 8 bits), with the registered divergence's own interval;
- perception, a no-reference critic: its mean score over the decoded images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.figure import Figure

import rdpkit
from rdpkit.codecs.measure import round_trip
from rdpkit.interfaces import Estimate
from rdpkit.options import Component
from rdpkit.patches import patches
from rdpkit.measures import Measurement

PATCH = 64
#: Fréchet distance between Gaussians fitted to NIQE's natural-scene statistics of the patches (computed on 32×32 blocks):
#: hand-crafted, no download, and built to see what a blurring or a grid of artefacts does to local contrast. (PIM's
#: self-trained representation, tried first, put the shipped pair within each other's intervals: it was trained on
#: distortions of the photographs it describes, not on what makes them look real.)
DIVERGENCE = "frechet,extractor=nss,extractor_options={patch=32}"
CRITIC = "niqe,patch=32"


@dataclass(frozen=True)
class PDPoint:
    """One codec on the held-out photographs: rate, distortion, and both perception indices."""

    label: str
    bpp: float  # mean over images, from the bitstreams' bytes
    mse: Measurement
    psnr: float  # mean over images, dB
    divergence: Estimate  # real against decoded patches
    critic: Measurement  # no-reference score of the decoded images (lower: more natural)

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "bpp": self.bpp, "mse": self.mse.as_dict(), "psnr": self.psnr,
                "divergence": self.divergence.as_dict(), "critic": self.critic.as_dict()}


def decode(codec: Any, images: list[torch.Tensor], seed: int = 0) -> tuple[list[torch.Tensor], list[float]]:
    """Each image coded on its own: the decoded images and their bits per pixel."""
    out, bpp = [], []
    for x in images:
        coded = round_trip(codec, x, seed=seed)
        out.append(coded.x_hat)
        bpp.append(coded.rate.bpp)
    return out, bpp


def measure(label: str, codec: Any, images: list[torch.Tensor], *, divergence: str = DIVERGENCE, critic: str = CRITIC,
            patch: int = PATCH, seed: int = 0, bootstrap: int = 0) -> tuple[PDPoint, list[torch.Tensor]]:
    """`codec` on `images`: its point on the P-D plane, and the decoded images."""
    # Everything that can refuse its options or the images does so before any coding.
    measure_by = Component.parse(divergence, what="divergence").create("divergence")
    scorer = Component.parse(critic, what="critic").create("critic")
    real = torch.cat([patches(x, patch) for x in images])
    decoded, bpp = decode(codec, images, seed)
    fake = torch.cat([patches(x, patch) for x in decoded])
    estimate = measure_by.estimate(real, fake, bootstrap=bootstrap, seed=seed)
    with torch.no_grad():
        scores = torch.cat([scorer.score(x) for x in decoded])
    mse = torch.stack([(x - y).pow(2).mean() for x, y in zip(images, decoded)])
    psnr = sum(float(rdpkit.psnr(x, y)) for x, y in zip(images, decoded)) / len(images)
    return PDPoint(label, sum(bpp) / len(bpp), Measurement.of(mse), psnr, estimate, Measurement.of(scores)), decoded


def crops_figure(images: list[torch.Tensor], rows: list[dict[str, list[torch.Tensor]]], *, image: int = 0,
                 box: tuple[int, int, int] = (140, 180, 192)) -> Figure:
    """One crop (top, left, side) of held-out image `image`: per row, the original, then each codec's decoding, side by side."""
    top, left, side = box
    width = 1 + max(len(row) for row in rows)
    fig = Figure(figsize=(2.3 * width, 2.5 * len(rows)), dpi=150)
    axes = fig.subplots(len(rows), width, squeeze=False)
    for ax_row, row in zip(axes, rows):
        panels = {"original": images[image], **{label: out[image] for label, out in row.items()}}
        for ax in ax_row:
            ax.set_axis_off()
        for ax, (label, x) in zip(ax_row, panels.items()):
            ax.imshow(x[0, :, top : top + side, left : left + side].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax.set_title(label, fontsize=7)
    fig.tight_layout()
    return fig


def plane_figure(groups: list[list[PDPoint]], *, title: str = "held-out photographs") -> Figure:
    """The P-D plane twice: MSE against the divergence (with its interval; log scale), and against the no-reference
    critic. One colour per group (a rate: the hyperprior, then the hific pair), a line through the group's last two
    points (the pair's equi-rate line); markers square, circle, star in group order."""
    fig = Figure(figsize=(10.5, 4.2), dpi=130)
    left, right = fig.subplots(1, 2)
    for colour, group in enumerate(groups):
        for marker, p in zip("so*^", group):
            ci = p.divergence.ci or (p.divergence.value, p.divergence.value)
            low = max(ci[0], 1e-3 * p.divergence.value)  # a lower bound of 0 has no place on a log axis
            style = {"color": f"C{colour}", "fmt": marker, "capsize": 3, "markersize": 9 if marker == "*" else 6, "elinewidth": 1}
            left.errorbar(p.mse.mean, p.divergence.value, yerr=[[p.divergence.value - low], [ci[1] - p.divergence.value]],
                          label=f"{p.label} ({p.bpp:.3f} bpp)", **style)
            right.errorbar(p.mse.mean, p.critic.mean, yerr=p.critic.stderr, label=f"{p.label} ({p.bpp:.3f} bpp)", **style)
        if len(group) >= 2:
            a, b = group[-2:]
            left.plot([a.mse.mean, b.mse.mean], [a.divergence.value, b.divergence.value], color=f"C{colour}", lw=0.8, ls="--")
            right.plot([a.mse.mean, b.mse.mean], [a.critic.mean, b.critic.mean], color=f"C{colour}", lw=0.8, ls="--")
    points = [p for group in groups for p in group]
    quantity = points[0].divergence.quantity if points else ""
    left.set_yscale("log")
    left.set_ylabel(f"{quantity}\nreal vs decoded {PATCH}×{PATCH} patches (95% interval)", fontsize=8)
    right.set_ylabel(f"no-reference critic ({CRITIC}), mean ± s.e. over images", fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("MSE (mean over images)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    right.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"perception-distortion plane, {title}: dashed, each hific pair at one rate (λ_p = 0 → λ_p > 0)", fontsize=9)
    fig.tight_layout()
    return fig
