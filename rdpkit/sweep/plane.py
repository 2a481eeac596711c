"""The perception-distortion plane (Blau & Michaeli, CVPR 2018, section 6).

Place any set of algorithms on the plane of a full-reference distortion (mean over images)
and a perception index: either a no-reference critic's mean score (NIQE-like, per image)
or a divergence between the reference images and the outputs (a distribution distance,
as the theory defines perception). The algorithms are folders of outputs matching a
reference folder file by file, or codecs run at several settings on the same images. The
admissible set is the points no other point beats on both axes; for codecs, a second column
says which are also admissible once rate counts.
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

from ..errors import InputError
from ..registry import Registry, get_registry
from .pareto import non_dominated


@dataclass(frozen=True)
class PlanePoint:
    """One algorithm on the plane: distortion and perception (both lower-is-better) ± stderr."""

    name: str
    distortion: float
    distortion_stderr: float
    perception: float
    perception_stderr: float
    bpp: float | None = None  # rate, for codecs


def _mean_stderr(v: torch.Tensor) -> tuple[float, float]:
    v = v.detach().double().cpu()
    return float(v.mean()), float(v.std() / math.sqrt(v.numel())) if v.numel() > 1 else float("nan")


def measure(
    reference: torch.Tensor,
    outputs: Mapping[str, torch.Tensor],
    *,
    fr: str = "mse",
    nr: str | None = None,
    divergence: str | None = None,
    perception_options: Mapping[str, Any] | None = None,
    rates: Mapping[str, float] | None = None,
    progress: bool = True,
    registry: Registry | None = None,
) -> list[PlanePoint]:
    """Each output batch's distortion against `reference` and its perception index.

    Exactly one of `nr` (a registered critic: mean score of the outputs) and `divergence`
    (a registered divergence between reference and outputs) gives the perception index;
    `perception_options` are that component's options.
    """
    if (nr is None) == (divergence is None):
        raise InputError("give exactly one perception measure: a no-reference critic (nr=...) or a divergence (divergence=...).")
    if not outputs:
        raise InputError("no algorithm to place on the plane; give at least one folder of outputs or codec setting.")
    registry = registry or get_registry()
    metric = registry.create("distortion", fr)
    options = dict(perception_options or {})
    judge = registry.create("critic", nr, **options) if nr else registry.create("divergence", divergence, **options)  # type: ignore[arg-type]
    from tqdm.auto import tqdm

    points = []
    for name, y in tqdm(outputs.items(), desc="measuring", unit="algorithm", disable=not progress):
        if y.shape != reference.shape:
            raise InputError(f"the outputs of {name!r} have shape {tuple(y.shape)} but the reference images {tuple(reference.shape)}; give one output per reference image, of the same size.")
        with torch.no_grad():
            d = _mean_stderr(metric(reference, y))
            scores = judge.score(y) if nr else None
        if scores is not None:
            p = _mean_stderr(scores)
        else:  # outside no_grad: a divergence may train a critic (wasserstein-critic)
            est = judge.estimate(reference, y)
            p = (est.value, est.stderr)
        points.append(PlanePoint(name, *d, *p, bpp=(rates or {}).get(name)))
    return points


def load_matching(reference_dir: str | Path, output_dirs: Mapping[str, str | Path], *, size: int | None = None,
                  gray: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The reference folder and each algorithm's folder, matched by file name (stem)."""
    from ..data import folder_files, load_image

    def load(files: Sequence[Path]) -> torch.Tensor:
        batch = [load_image(f, size=size, gray=gray) for f in files]
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            raise InputError(f"the images of {str(files[0].parent)!r} differ in size ({', '.join(str(s[2:]) for s in sorted(shapes))}); pass --size to bring them to one.")
        return torch.cat(batch)

    ref_files = folder_files(reference_dir)
    stems = [f.stem for f in ref_files]
    outputs = {}
    for name, folder in output_dirs.items():
        by_stem = {f.stem: f for f in folder_files(folder)}
        missing = [s for s in stems if s not in by_stem]
        if missing:
            raise InputError(f"folder {str(folder)!r} ({name}) has no output for reference image {missing[0]!r} ({len(missing)} missing); name each output like its reference image.")
        outputs[name] = load([by_stem[s] for s in stems])
    return load(ref_files), outputs


def parse_setting(text: str) -> tuple[str, dict[str, Any]]:
    """``"jpeg:quality=10,subsampling=0"`` → ``("jpeg", {"quality": 10, "subsampling": 0})``."""
    from .config import tomllib

    name, _, rest = text.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise InputError(f"codec setting {text!r} is not NAME:KEY=VALUE,KEY=VALUE (e.g. jpeg:quality=10).")
        try:
            options[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[key.strip()] = value.strip()
    if not name:
        raise InputError(f"codec setting {text!r} names no codec; write NAME:KEY=VALUE (e.g. jpeg:quality=10).")
    return name, options


def codec_outputs(
    images: torch.Tensor,
    settings: Sequence[str],
    *,
    train: torch.Tensor | None = None,
    fit: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: bool = True,
    registry: Registry | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Decoded `images` and the rate (bpp, from bitstreams) of each codec setting.

    Learnable codecs are first fitted on `train` (required for them) with `fit` options.
    """
    from tqdm.auto import tqdm

    from .trial import _fit

    registry = registry or get_registry()
    outputs, rates = {}, {}
    parsed = [parse_setting(text) for text in settings]  # every setting checked before any runs
    for text, (name, options) in tqdm(list(zip(settings, parsed)), desc="codec settings", unit="setting", disable=not progress):
        torch.manual_seed(seed)
        codec = registry.create("codec", name, **options)
        if codec.learnable:
            if train is None:
                raise InputError(f"codec {name!r} is learnable and needs training images; use a data source with enough images (e.g. digits).")
            _fit(codec, train, dict(fit or {}), seed, "cpu" if images.device.type == "cpu" else str(images.device))
        with torch.no_grad():
            data = codec.encode(images).to_bytes()
            outputs[text] = codec.decode(data, seed=seed).to(images.dtype)
        n, _, h, w = images.shape
        rates[text] = 8 * len(data) / (n * h * w)
    return outputs, rates


def plane_frame(points: Sequence[PlanePoint]) -> pd.DataFrame:
    """The points as a DataFrame with `admissible` (non-dominated in distortion and perception)
    and, when every point has a rate, `admissible_rdp` (non-dominated in rate too)."""
    df = pd.DataFrame([asdict(p) for p in points])
    df["admissible"] = non_dominated(df[["distortion", "perception"]].to_numpy(dtype=np.float64))
    if df.bpp.notna().all():
        df["admissible_rdp"] = non_dominated(df[["distortion", "perception", "bpp"]].to_numpy(dtype=np.float64))
    return df


def fig_plane(df: pd.DataFrame, *, fr: str, perception: str) -> Any:
    """The plane: every algorithm with error bars, the admissible ones joined and circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
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


def write_plane(points: Sequence[PlanePoint], out: str | Path, *, fr: str, perception: str) -> Path:
    """Write ``plane.png``, ``plane.csv`` and a self-contained ``index.html`` into `out`."""
    from .report import html_page, html_table, png_bytes

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {str(out)!r} ({exc.strerror}); choose a writable --out.") from None
    df = plane_frame(points)
    image = png_bytes(fig_plane(df, fr=fr, perception=perception))
    (out / "plane.png").write_bytes(image)
    df.to_csv(out / "plane.csv", index=False)
    sections = [("admissible set", html_table(df[df.admissible])), ("every algorithm", html_table(df))]
    page = out / "index.html"
    page.write_text(html_page(f"perception-distortion plane: {fr} × {perception}", sections, {"plane.png": image}))
    return page
