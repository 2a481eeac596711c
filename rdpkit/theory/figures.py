"""The theory papers' figures, as matplotlib Figures (no pyplot state, so any backend works).

* `bernoulli_rd_figure`: R-D curves at several P (Blau & Michaeli, ICML 2019, Fig. 3).
* `bernoulli_rdp_figure`: the R(D, P) surface with equi-rate lines and its P-D and R-P
  cross-sections (ICML 2019, Fig. 4).
* `gaussian_figure`: D(R) at perfect realism between Shannon's D(R) and 2·D(R) (Theorem 2,
  ICML 2019 Fig. 5), with the Gaussian W2 closed form of Zhang et al. (NeurIPS 2021).
* `perception_distortion_figure`: P(D) of CVPR 2018 Example 1 (their Fig. 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import cm, colormaps
from matplotlib.figure import Figure

from ..report import figure_bytes, output_folder, write_bytes
from .bernoulli import bernoulli_rd, bernoulli_rdp
from .gaussian import (
    gaussian_dr,
    gaussian_drp_w2,
    mmse_linear,
    perception_distortion_linear,
)


def bernoulli_axes(p: float, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """D and P grids covering the whole interesting region of Bern(p): D up to 2p(1 − p), P up to p."""
    p = min(p, 1.0 - p)
    return np.linspace(0.0, 2.0 * p * (1.0 - p) * 1.05, n), np.linspace(0.0, p, n)


def bernoulli_rd_figure(p: float, Ps: Sequence[float], n: int = 400) -> Figure:
    """R(D, P) against D for each P in Ps, with Shannon's R(D) dashed."""
    Ds, _ = bernoulli_axes(p, n)
    fig = Figure(figsize=(5.0, 3.6), dpi=120)
    ax = fig.add_subplot()
    ax.plot(Ds, bernoulli_rd(Ds, p), "k--", label="R(D), P = ∞")
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, max(len(Ps), 1)))
    for colour, P in zip(colours, Ps):
        ax.plot(Ds, bernoulli_rdp(Ds, P, p), color=colour, label=f"P = {P:g}")
    ax.set(xlabel="distortion D (Hamming)", ylabel="rate R (bits)", title=f"R(D, P) of Bern({p:g}), TV perception", xlim=(0, Ds[-1]), ylim=(0, None))
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def bernoulli_rdp_figure(p: float, n: int = 120, rates: Sequence[float] | None = None, distortions: Sequence[float] | None = None) -> Figure:
    """(a) the surface R(D, P) with equi-rate lines; (b) P-D cross-sections at constant R; (c) R-P cross-sections at constant D."""
    Ds, Ps = bernoulli_axes(p, n)
    DD, PP = np.meshgrid(Ds, Ps)
    RR = bernoulli_rdp(DD, PP, p)
    top = float(RR.max())
    rates = list(rates) if rates is not None else list(np.round(np.linspace(0.1, 0.8, 5) * top, 3))
    distortions = list(distortions) if distortions is not None else list(np.round(np.linspace(0.15, 0.75, 5) * Ds[-1], 3))
    fig = Figure(figsize=(13.0, 4.0), dpi=110)
    ax = fig.add_subplot(1, 3, 1, projection="3d")
    ax.plot_surface(DD, PP, RR, cmap=cm.viridis, linewidth=0, antialiased=True, alpha=0.85)
    ax.contour(DD, PP, RR, levels=rates, colors="k", linewidths=0.8)
    ax.set(xlabel="D", ylabel="P", zlabel="R (bits)", title="(a) R(D, P) with equi-rate lines")
    ax.view_init(elev=25, azim=-120)
    ax = fig.add_subplot(1, 3, 2)
    lines = ax.contour(DD, PP, RR, levels=rates, cmap=cm.viridis)
    ax.clabel(lines, fmt=lambda r: f"R={r:g}", fontsize=7)
    ax.set(xlabel="distortion D", ylabel="perception P (TV)", title="(b) perception-distortion at constant rate")
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 3, 3)
    for D in distortions:
        ax.plot(Ps, bernoulli_rdp(D, Ps, p), label=f"D = {D:g}")
    ax.set(xlabel="perception P (TV)", ylabel="rate R (bits)", title="(c) rate-perception at constant distortion", ylim=(0, None))
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle(f"Rate-distortion-perception function of Bern({p:g}), Hamming distortion")
    fig.tight_layout()
    return fig


def gaussian_figure(sigma: float = 1.0, Ps: Sequence[float] = (0.05, 0.2), max_rate: float = 2.0, n: int = 300) -> Figure:
    """Distortion-rate curves of N(0, σ²) under W2² perception: Shannon's, perfect realism, its Theorem 2 bound, and some P."""
    R = np.linspace(0.0, max_rate, n)
    fig = Figure(figsize=(5.0, 3.6), dpi=120)
    ax = fig.add_subplot()
    ax.plot(R, gaussian_dr(R, sigma), "k--", label="D(R), P = ∞ (Shannon)")
    ax.plot(R, 2.0 * gaussian_dr(R, sigma), "k:", label="2·D(R) (Theorem 2 bound)")
    for P in Ps:
        ax.plot(R, gaussian_drp_w2(R, P, sigma), label=f"D(R, P), W2² ≤ {P:g}")
    ax.plot(R, gaussian_drp_w2(R, 0.0, sigma), "b", lw=2, label="D(R, 0), perfect realism")
    ax.set(xlabel="rate R (bits)", ylabel="MSE D", title=f"Gaussian source, σ = {sigma:g}", xlim=(0, max_rate), ylim=(0, 2.05 * sigma**2))
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def perception_distortion_figure(noise_stds: Sequence[float] = (0.5, 1.0, 2.0, 3.0), n: int = 400) -> Figure:
    """P(D) of CVPR 2018 Example 1 for each noise level, cut off at the linear MMSE (square marker)."""
    fig = Figure(figsize=(5.0, 3.6), dpi=120)
    ax = fig.add_subplot()
    top = 2.0 - 2.0 / np.sqrt(1.0 + max(noise_stds) ** 2)
    for s in noise_stds:
        lo = mmse_linear(s)
        D = np.linspace(lo, top * 1.05, n)
        (line,) = ax.plot(D, perception_distortion_linear(D, s), label=f"σ_N = {s:g}")
        ax.plot([lo], perception_distortion_linear(lo, s), "s", color=line.get_color())
    ax.set(xlabel="distortion (MSE)", ylabel="perception KL(p_X ‖ p_X̂) (nats)", title="Perception-distortion, X̂ = aY (CVPR 2018, Ex. 1)", ylim=(0, None))
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def render(fig: Figure, stem: str, formats: Sequence[str] = ("png", "svg")) -> dict[str, bytes]:
    """`fig` as the bytes of STEM.png and STEM.svg, rendered in memory: a figure that cannot be drawn leaves no file behind."""
    return {f"{stem}.{fmt}": figure_bytes(fig, fmt) for fmt in formats}


def save(files: dict[str, bytes], directory: Path | str) -> list[Path]:
    """Write rendered files into `directory` (created if needed); returns the paths."""
    directory = output_folder(directory)
    paths = []
    for name, data in files.items():
        write_bytes(directory / name, data)
        paths.append(directory / name)
    return paths
