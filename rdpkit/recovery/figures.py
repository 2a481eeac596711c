"""Figures of recovery results (matplotlib, PNG bytes): the gallery of Ding et al.'s Fig. 1 and convergence curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from ..data import to_numpy
from ..report import figure_png

if TYPE_CHECKING:
    from .result import RecoveryResult

VERDICT_COLOURS = {"recovered": "#1a7f37", "blind spot": "#cf222e", "not converged": "#9a6700"}


@dataclass
class Layout:
    """Ding et al.'s Fig. 1 layout: one row per (image, initialisation), one column per distortion."""

    rows: list[tuple[str, str]]
    distortions: list[str]
    cells: dict[tuple[str, str, str], RecoveryResult]

    @classmethod
    def of(cls, results: Sequence[RecoveryResult]) -> Layout:
        rows: dict[tuple[str, str], None] = {}
        cols: dict[str, None] = {}
        cells = {}
        for r in results:
            rows[(r.image, r.init)] = None
            cols[r.distortion] = None
            cells[(r.image, r.init, r.distortion)] = r
        return cls(list(rows), list(cols), cells)

    def row_results(self, row: tuple[str, str]) -> list[RecoveryResult | None]:
        return [self.cells.get((*row, d)) for d in self.distortions]

    def any_in_row(self, row: tuple[str, str]) -> RecoveryResult:
        return next(r for r in self.row_results(row) if r is not None)


def _short(source: str) -> str:
    return source.removeprefix("builtin:").rsplit("/", 1)[-1]


def gallery_png(results: Sequence[RecoveryResult], cell_inches: float = 1.6) -> bytes:
    """Rows = image × initialisation; columns = initialisation, each distortion's y*, reference."""
    layout = Layout.of(results)
    ncols = len(layout.distortions) + 2
    fig = Figure(figsize=(cell_inches * ncols, (cell_inches + 0.35) * len(layout.rows)), dpi=100)
    axes = fig.subplots(len(layout.rows), ncols, squeeze=False)
    for i, row in enumerate(layout.rows):
        first = layout.any_in_row(row)
        panels = [(first.initial, f"init: {row[1]}\nPSNR {first.trajectory.psnr[0]:.1f} dB", "black")]
        for d, r in zip(layout.distortions, layout.row_results(row)):
            if r is None:
                panels.append((None, f"{d}\n(no result)", "grey"))
            else:
                panels.append((r.final, f"{d}: {r.verdict.label}\nPSNR {r.psnr:.1f} dB", VERDICT_COLOURS.get(r.verdict.label, "black")))
        panels.append((first.reference, f"reference\n{_short(row[0])}", "black"))
        for ax, (img, title, colour) in zip(axes[i], panels):
            ax.set_xticks([])
            ax.set_yticks([])
            if img is not None:
                a = to_numpy(img)
                ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(title, fontsize=7.5, color=colour)
    fig.subplots_adjust(wspace=0.05, hspace=0.35)
    return figure_png(fig)


def curves_png(results: Sequence[RecoveryResult]) -> bytes:
    """Per distortion: D(x, y) relative to its start (log scale) and PSNR of y, against the step."""
    layout = Layout.of(results)
    n = len(layout.distortions)
    fig = Figure(figsize=(3.2 * n + 0.5, 5.2), dpi=100)
    axes = fig.subplots(2, n, squeeze=False, sharex="col")
    for j, d in enumerate(layout.distortions):
        top, bottom = axes[0][j], axes[1][j]
        for row in layout.rows:
            r = layout.cells.get((*row, d))
            if r is None:
                continue
            t = r.trajectory
            start = t.distortion[0] if t.distortion[0] > 0 else 1.0
            rel = [max(v / start, 1e-12) if math.isfinite(v) else float("nan") for v in t.distortion]
            label = f"{_short(row[0])} / {row[1]}"
            (line,) = top.plot(t.step, rel, lw=1.2, label=label)
            bottom.plot(t.step, [min(p, 60.0) for p in t.psnr], lw=1.2, color=line.get_color())
            top.axhline(max(r.near_identical_level / start, 1e-12), color=line.get_color(), lw=0.8, ls=":")
        top.set_yscale("log")
        top.set_title(d, fontsize=10)
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
        bottom.set_xlabel("step")
        if j == 0:
            top.set_ylabel("D(x, y) / D(x, y0)\n(dotted: near-identical level)")
            bottom.set_ylabel("PSNR of y (dB, capped at 60)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return figure_png(fig)
