"""The perception-distortion plane (Blau & Michaeli, CVPR 2018, section 6).

Place any set of algorithms on the plane of a full-reference distortion (mean over images)
and a perception index: a divergence between the reference images and the outputs (a
distribution distance, as the theory defines perception), or a no-reference critic's mean
score (NIQE-like). The algorithms are folders of outputs matching a reference folder file by
file, or codec settings run on one image source: those are sweep trials (`SweepTrial`), run
and stored by the trial layer like any sweep. The admissible set is the points no other
point beats on both axes by more than the 95 % intervals of the differences; for codecs, a
second column says which are also admissible once rate counts. The page says which
perception values the intervals cannot tell apart and how many samples would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ..errors import InputError
from ..options import Component
from ..pareto import non_dominated
from ..registry import Registry, get_registry
from ..report import Page, figure_png, output_folder, write_bytes, write_frame
from ..validation import check_device
from .config import DataConfig, EvaluateConfig
from .measure import measure_outputs, measures
from .report import perception_note, with_ties
from .trial import SweepResult, SweepTrial


@dataclass(frozen=True)
class PlanePoint:
    """One algorithm on the plane: distortion and perception (both lower-is-better) ± stderr, and the samples per set behind the perception index."""

    name: str
    distortion: float
    distortion_stderr: float
    perception: float
    perception_stderr: float
    bpp: float | None = None  # rate, for codecs
    perception_n: int | None = None

    @classmethod
    def of(cls, name: str, result: SweepResult) -> PlanePoint:
        d = result.distortions[result.primary_distortion]
        return cls(name, d.mean, d.stderr, result.perception.value, result.perception.stderr, result.rate.bpp, result.perception.estimate.n)


def evaluation(fr: str | Component, perception: str | Component) -> EvaluateConfig:
    """What the plane measures: one full-reference distortion and one perception index (no stored samples)."""
    return EvaluateConfig(distortions=(Component.parse(fr, what="--fr distortion"),),
                          perception=Component.parse(perception, what="--perception"), samples=0)


def measure(reference: torch.Tensor, outputs: Mapping[str, torch.Tensor], *, fr: str | Component = "mse",
            perception: str | Component = "wasserstein-sliced", seed: int = 0, progress: bool = True,
            registry: Registry | None = None) -> list[PlanePoint]:
    """Each output batch's distortion against `reference` and its perception index.

    `fr` is a registered distortion, `perception` a registered divergence (between the
    reference images and the outputs) or critic (mean score of the outputs), each with its
    options (``wasserstein-critic,steps=200``).
    """
    if not outputs:
        raise InputError("no algorithm to place on the plane; give at least one folder of outputs or codec setting.")
    registry = registry or get_registry()
    ev = evaluation(fr, perception)
    ev.perception_kind(registry)
    from tqdm.auto import tqdm

    points = []
    for name, y in tqdm(outputs.items(), desc="measuring", unit="algorithm", disable=not progress or None):
        if y.shape != reference.shape:
            raise InputError(f"the outputs of {name!r} have shape {tuple(y.shape)} but the reference images {tuple(reference.shape)}; give one output per reference image, of the same size.")
        m, index = measure_outputs(reference, y, reference, ev, seed=seed, registry=registry)
        d = m.distortions[str(ev.distortions[0])]
        points.append(PlanePoint(name, d.mean, d.stderr, index.value, index.stderr, perception_n=index.estimate.n))
    return points


def load_matching(reference_dir: str | Path, output_dirs: Mapping[str, str | Path], *, size: int | None = None,
                  gray: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The reference folder and each algorithm's folder, matched by file name (stem)."""
    from ..data import folder_files, load_images

    ref_files = folder_files(reference_dir)
    stems = [f.stem for f in ref_files]
    outputs = {}
    for name, folder in output_dirs.items():
        by_stem = {f.stem: f for f in folder_files(folder)}
        missing = [s for s in stems if s not in by_stem]
        if missing:
            raise InputError(f"folder {str(folder)!r} ({name}) has no output for reference image {missing[0]!r} ({len(missing)} missing); name each output like its reference image.")
        outputs[name] = load_images([by_stem[s] for s in stems], size=size, gray=gray)
    return load_images(ref_files, size=size, gray=gray), outputs


def plane_trials(source: str, codecs: Sequence[str], *, size: int | None = None, gray: bool = False, fit: Mapping[str, Any] | None = None,
                 fr: str | Component = "mse", perception: str | Component = "wasserstein-sliced", seed: int = 0,
                 device: str = "auto", registry: Registry | None = None) -> list[SweepTrial]:
    """Codec settings on an image source as sweep trials (checked before anything runs).

    Learnable codecs train on 75 % of the images and code the rest; otherwise every image is
    coded. The perception index compares the decoded images with the coded originals.
    """
    from .config import check_fit_options

    registry = registry or get_registry()
    device = check_device(device)
    if not codecs:
        raise InputError("place at least one codec setting on the plane, e.g. --codec jpeg,quality=10.")
    settings = [Component.parse(c, what="codec setting") for c in codecs]
    built = [s.create("codec", registry) for s in settings]
    learnable = any(c.learnable for c in built)
    for c in built:
        if c.learnable:
            check_fit_options(c, fit or {})
    data = DataConfig.from_dict({"source": source, **({"size": size} if size else {}), "gray": gray,
                                 "split": [0.75, 0.0, 0.25] if learnable else [0.0, 0.0, 1.0]})
    ev = evaluation(fr, perception)
    side = data.side()
    # Everything that will see the images, checked here: a size one of them refuses would
    # otherwise fail every trial, each failure printed, after the codecs had run.
    for s, c in zip(settings, built):
        if side < c.min_size:
            raise InputError(f"codec {s.name!r} needs images of at least {c.min_size}×{c.min_size}, but these are {side}×{side}; raise --size.")
    measures(ev, registry).check(registry).check_side(side, these=f"these are {side}×{side}", fix="raise --size")
    data.check_images()
    return [SweepTrial(s, str(s), dict(fit or {}) if c.learnable else {}, seed, data, ev, device) for s, c in zip(settings, built)]


def plane_frame(points: Sequence[PlanePoint]) -> pd.DataFrame:
    """The points as a DataFrame with `admissible` (non-dominated in distortion and perception, beyond
    the intervals of the differences), when every point has a rate `admissible_rdp` (non-dominated
    in rate too, which is exact), and the perception ties (`with_ties`)."""
    df = pd.DataFrame([asdict(p) for p in points])
    stderr = df[["distortion_stderr", "perception_stderr"]].to_numpy(dtype=np.float64)
    df["admissible"] = non_dominated(df[["distortion", "perception"]].to_numpy(dtype=np.float64), stderr)
    if df.bpp.notna().all():
        df["admissible_rdp"] = non_dominated(df[["distortion", "perception", "bpp"]].to_numpy(dtype=np.float64),
                                             np.c_[stderr, np.zeros(len(df))])
    return with_ties(df, df.perception_n)


def fig_plane(df: pd.DataFrame, *, fr: str, perception: str) -> Figure:
    """The plane: every algorithm with error bars, the admissible ones joined and circled."""
    fig = Figure(figsize=(6.4, 4.8), dpi=130)
    ax = fig.add_subplot()
    ax.errorbar(df.distortion, df.perception, xerr=df.distortion_stderr.fillna(0), yerr=df.perception_stderr.fillna(0),
                fmt="o", ms=5, color="tab:blue", ecolor="0.6", lw=0.8, zorder=2)
    for _, r in df.iterrows():
        text = r["name"] + (f" ({r.bpp:.2g} bpp)" if isinstance(r.bpp, float) and not math.isnan(r.bpp) else "")
        ax.annotate(text, (r.distortion, r.perception), fontsize=7, xytext=(4, 3), textcoords="offset points")
    adm = df[df.admissible].sort_values("distortion")
    ax.plot(adm.distortion, adm.perception, "-", color="tab:green", lw=1, zorder=1)
    ax.scatter(adm.distortion, adm.perception, s=110, facecolors="none", edgecolors="tab:green", label="admissible (perception-distortion bound)", zorder=3)
    ax.set_xlabel(f"distortion ({fr}; lower is better)")
    ax.set_ylabel(f"perception index ({perception}; lower is better)")
    ax.set_title("perception-distortion plane")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_plane(points: Sequence[PlanePoint], out: str | Path, *, fr: str, perception: str, protect: Sequence[str | Path] = ()) -> Path:
    """Write ``plane.png``, ``plane.csv`` and a self-contained ``index.html`` into `out`, never over a path in `protect` (the store)."""
    out = output_folder(out, protect=protect)
    df = plane_frame(points)
    image = figure_png(fig_plane(df, fr=fr, perception=perception))
    write_bytes(out / "plane.png", image, protect=protect)
    write_frame(out / "plane.csv", df, protect=protect)
    page = Page(f"perception-distortion plane: {fr} × {perception}", intro=f"{len(df)} algorithm(s), {int(df.admissible.sum())} admissible.")
    page.figure(image, "every algorithm with its standard errors; the admissible set joined and circled", alt="plane.png")
    page.note(perception_note(df, "algorithm"))
    page.section("admissible set").frame(df[df.admissible]).section("every algorithm").frame(df)
    return page.write(out / "index.html", protect=protect)
