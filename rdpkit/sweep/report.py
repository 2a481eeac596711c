"""What a sweep found: a DataFrame / CSV of its trials, its figures, and one self-contained HTML page.

Figures, after Blau & Michaeli (ICML 2019), as state-free matplotlib Figures:

- ``sweep-rd.png``: trials on the rate-distortion plane coloured by perception index, with
  each codec's operational R-D curve (λ = 0 when the codec has perception weights) and its
  R-D curves at (approximately) constant perception (Fig. 6 left, footnote 8);
- ``sweep-pd.png``: perception-distortion planes with one equi-rate line per rate setting,
  joining its perception weights (Fig. 7 b);
- ``sweep-samples.png``: decoded test images of every setting (Fig. 6 right).

Settings run under several seeds are averaged (their spread becomes the standard error).
"""

from __future__ import annotations

import io
import json
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..bdrate import (
    METHODS,
    bd_rate,
    bd_rate_at_perception,
    curve_at_perception,
    strictest_shared_perception,
)
from ..errors import InputError
from ..pareto import lower_envelope, non_dominated
from ..report import Page, figure_png, output_folder, write_bytes, write_frame
from ..store import Store
from .trial import KIND, SweepResult, SweepTrial

SETTING_COLUMNS = ["label", "codec", "setting"]


def open_store(store: Store | str | Path) -> Store:
    """An existing result store, opened read-only (a missing file or another application's database is refused)."""
    return store if isinstance(store, Store) else Store(store, readonly=True)


def trial_rows(db: Store) -> list[tuple[Any, SweepTrial, SweepResult | None]]:
    """Every sweep trial of the store: (stored row, trial, result or None)."""
    out = []
    for row in db.trials(kind=KIND):
        trial = SweepTrial.from_identity(row.config)
        result = SweepResult.from_record(row.result, {}) if row.status == "done" and row.result else None
        out.append((row, trial, result))
    return out


def results_frame(store: Store | str | Path) -> pd.DataFrame:
    """One row per sweep trial: configuration, status and `SweepResult.row()`.

    Columns: ``key, status, label, codec, seed, setting`` (the options as JSON), ``opt.<option>``
    per option, ``rate_setting`` (the options but the perception weight), then the result's
    columns (``rate_bits``, ``bpp``, ``distortion``, ``perception`` with their stderr, the perception weight under the codec's name for it
    (``lam``, ``lam_p``) and as ``weight`` with its name in ``weight_option``,
    ``D.<name>``, ``P.<name>``, ``C.<name>``, times, device) and ``error``.
    """
    db = open_store(store)
    rows = []
    for stored, trial, result in trial_rows(db):
        options = trial.codec.options
        row: dict[str, Any] = {"key": stored.key, "status": stored.status, "label": trial.label, "codec": trial.codec.name,
                               "seed": trial.seed, "setting": json.dumps(options, sort_keys=True)}
        row.update({f"opt.{k}": v for k, v in options.items()})
        if result is not None:
            row["rate_setting"] = json.dumps({k: v for k, v in options.items() if k != result.perception_weight}, sort_keys=True)
            row.update(result.row())
        else:
            row["seconds"] = stored.seconds
        row["error"] = stored.error
        rows.append(row)
    return pd.DataFrame(rows)


def settings_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials averaged over seeds: one row per (codec, options), with `admissible`.

    The standard error of a setting run under one seed is the trial's own; under several,
    the spread of the seeds' means.
    """
    if trials.empty or "distortion" not in trials:
        raise InputError("the store holds no finished sweep trial yet; run `rdpkit sweep` (or wait for it) first.")
    done = trials[trials.status == "done"]
    agg = []
    for (label, codec, setting), g in done.groupby(SETTING_COLUMNS, sort=False):
        row = {"label": label, "codec": codec, "setting": setting, "seeds": len(g), "key": g.key.iloc[0],
               "rate_setting": g.rate_setting.iloc[0], "weight_option": g.weight_option.iloc[0], "weight": float(g.weight.iloc[0])}
        row.update({k: g[k].iloc[0] for k in g.columns if k.startswith("opt.")})
        for col in ("rate_bits", "bpp", "distortion", "perception"):
            row[col] = float(g[col].mean())
            own = float(g[f"{col}_stderr"].iloc[0]) if f"{col}_stderr" in g else 0.0  # rates are exact
            row[f"{col}_stderr"] = float(g[col].std(ddof=1) / math.sqrt(len(g))) if len(g) > 1 else own
        agg.append(row)
    out = pd.DataFrame(agg)
    # Settings that differ only in λ share a rate setting; its mean rate places them on one abscissa.
    out["rate_group_bits"] = out.groupby(["label", "rate_setting"]).rate_bits.transform("mean")
    out["admissible"] = non_dominated(out[["rate_bits", "distortion", "perception"]].to_numpy())
    return out


def perception_levels(s: pd.DataFrame) -> list[float]:
    """Bounds P for the R-D curves at constant perception: the strictest one whose curve spans
    two rate settings, and the median perception when its curve differs from that one."""
    levels: list[float] = []
    curves: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
    strictest = next((p for p in sorted(set(s.perception)) if len(curve_at_perception(s.rate_group_bits, s.distortion, s.perception, p)[0]) >= 2), None)
    for p in ([strictest, float(np.median(s.perception))] if strictest is not None else []):
        r, d = curve_at_perception(s.rate_group_bits, s.distortion, s.perception, p)
        if len(r) >= 2 and (tuple(r), tuple(d)) not in curves:
            levels.append(float(p))
            curves.append((tuple(r), tuple(d)))
    return levels


def _axis_label(text: str, width: int = 55) -> str:
    """`text` broken into lines of at most `width` characters: component strings with options can be long."""
    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False))


def fig_rd(s: pd.DataFrame, *, distortion_name: str = "distortion", perception_name: str = "perception") -> Figure:
    """R-D plane coloured by perception, operational R-D curves and curves at constant P."""
    fig = Figure(figsize=(6.4, 4.6), dpi=130)
    ax = fig.add_subplot()
    sc = ax.scatter(s.rate_bits, s.distortion, c=s.perception, cmap="viridis", s=36, zorder=3, edgecolors="k", linewidths=0.3)
    fig.colorbar(sc, ax=ax, label=_axis_label(f"perception index ({perception_name}; lower is better)", 60))
    styles = ["--", ":", "-."]
    for label, g in s.groupby("label", sort=False):
        base = g[g.weight == 0] if (g.weight == 0).any() else g
        idx = lower_envelope(base.rate_bits, base.distortion)
        what = "λ = 0" if (g.weight == 0).any() else "all settings"
        ax.plot(base.rate_bits.iloc[idx], base.distortion.iloc[idx], "k-", lw=1.5, label=f"{label}: R-D curve ({what})")
        for style, p in zip(styles, perception_levels(g)):
            r, d = curve_at_perception(g.rate_group_bits, g.distortion, g.perception, p)
            if len(r) >= 2:
                ax.plot(r, d, style, color="tab:red", lw=1.3, label=f"{label}: R-D curve at P ≤ {p:.3g}")
    ax.set_xlabel("rate (bits per image, measured from bitstreams)")
    ax.set_ylabel(_axis_label(f"distortion ({distortion_name})"))
    ax.set_title("rate-distortion-perception: trials coloured by perception")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_pd(s: pd.DataFrame, *, distortion_name: str = "distortion", perception_name: str = "perception") -> Figure:
    """Perception-distortion planes: one equi-rate line per rate setting, through its λ values."""
    fig = Figure(figsize=(6.4, 4.6), dpi=130)
    ax = fig.add_subplot()
    groups = list(s.groupby(["label", "rate_setting"], sort=False))
    cmap = colormaps["plasma"]
    rates = [float(g.rate_bits.mean()) for _, g in groups]
    lo, hi = (min(rates), max(rates)) if rates else (0.0, 1.0)
    for (label, _), g in groups:
        g = g.sort_values("weight")
        rate = float(g.rate_bits.mean())
        colour = cmap(0.85 * (rate - lo) / (hi - lo) if hi > lo else 0.4)
        ax.plot(g.distortion, g.perception, "o-", color=colour, ms=4, lw=1.2, label=f"{label} R≈{rate:.3g} bits")
        for _, row in g.iterrows():
            if not math.isnan(row.weight):
                ax.annotate(f"{row.weight_option}={row.weight:g}", (row.distortion, row.perception), fontsize=6, xytext=(3, 3), textcoords="offset points")
    adm = s[s.admissible]
    ax.scatter(adm.distortion, adm.perception, s=90, facecolors="none", edgecolors="tab:green", label="admissible (R, D, P)")
    ax.set_xlabel(_axis_label(f"distortion ({distortion_name})", 90))
    values = s.perception[np.isfinite(s.perception)]
    spread = bool(len(values)) and values.min() > 0 and values.max() > 20 * values.min()
    if spread:  # one far-off setting would flatten every other onto the axis
        ax.set_yscale("log")
    ax.set_ylabel(_axis_label(f"perception index ({perception_name}{', log scale' if spread else ''})"))
    ax.set_title("perception-distortion planes: equi-rate lines")
    columns = 1 + len(groups) // 16
    ax.legend(fontsize=6, ncol=columns, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the plane: it hides no point
    fig.set_size_inches(6.4 + 2.2 * columns, 4.6)
    fig.tight_layout()
    return fig


def fig_samples(s: pd.DataFrame, db: Store, *, limit: int = 12) -> Figure | None:
    """Decoded test images (first seed): one row per rate setting, one column per λ, originals on top."""
    from PIL import Image

    def image(key: str, name: str) -> np.ndarray | None:
        data = db.artifact(key, name)
        return np.asarray(Image.open(io.BytesIO(data))) if data else None

    groups = sorted(s.groupby(["label", "rate_setting"], sort=False), key=lambda kv: (kv[0][0], kv[1].rate_group_bits.iloc[0]))[:limit]
    lams = sorted(set(s.weight.dropna())) or [math.nan]
    original = image(s.key.iloc[0], "originals.png")
    if not groups or original is None:
        return None
    fig = Figure(figsize=(1.9 * len(lams) + 1.2, 1.0 * (len(groups) + 1) + 0.3), dpi=130)
    axes = fig.subplots(len(groups) + 1, len(lams), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].imshow(original, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[0, 0].set_title("originals", fontsize=8)
    for i, ((label, _), g) in enumerate(groups, start=1):
        for j, lam in enumerate(lams):
            match = g if math.isnan(lam) else g[g.weight == lam]
            samples = image(match.key.iloc[0], "samples.png") if len(match) else None
            if samples is None:
                continue
            ax = axes[i, j]
            ax.imshow(samples, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 1 and not math.isnan(lam):
                ax.set_title(f"{g.weight_option.iloc[0]} = {lam:g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{label}\nR ≈ {g.rate_group_bits.iloc[0]:.3g} bits", fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def bd_table(s: pd.DataFrame) -> pd.DataFrame:
    """BD-rate of every codec against the first one: plain, at perception no worse than the median, and at the
    strictest perception level at which the two curves share a distortion range."""
    labels = list(dict.fromkeys(s.label))
    rows = []
    if len(labels) < 2:
        return pd.DataFrame(rows)
    anchor = s[s.label == labels[0]]
    p_max = float(np.median(s.perception))
    for label in labels[1:]:
        test = s[s.label == label]
        row: dict[str, Any] = {"anchor": labels[0], "test": label}
        for method in METHODS:
            row[f"BD-rate % ({method})"] = _or_reason(_bd_on_curves, anchor, test, method)
            row[f"BD-rate % at P ≤ {p_max:.3g} ({method})"] = _or_reason(
                bd_rate_at_perception, (anchor.rate_bits, anchor.distortion, anchor.perception),
                (test.rate_bits, test.distortion, test.perception), p_max, method=method)
        shared = _or_reason(strictest_shared_perception, (anchor.rate_bits, anchor.distortion, anchor.perception),
                            (test.rate_bits, test.distortion, test.perception))
        row["strictest shared P"], row["BD-rate % at it (pchip)"] = (shared, shared) if isinstance(shared, str) else shared
        rows.append(row)
    return pd.DataFrame(rows)


def _or_reason(compute: Any, *args: Any, **kwargs: Any) -> float | str:
    """The BD-rate, or why it cannot be computed for these curves."""
    try:
        return compute(*args, **kwargs)
    except InputError as exc:
        return f"n/a: {exc}"


def _bd_on_curves(anchor: pd.DataFrame, test: pd.DataFrame, method: str) -> float:
    ia, it = lower_envelope(anchor.rate_bits, anchor.distortion), lower_envelope(test.rate_bits, test.distortion)
    return bd_rate(anchor.rate_bits.iloc[ia], anchor.distortion.iloc[ia], test.rate_bits.iloc[it], test.distortion.iloc[it], method=method)  # type: ignore[arg-type]


def write_report(store: Store | str | Path, out: str | Path, *, title: str | None = None) -> Path:
    """Write the figures, ``results.csv``, ``settings.csv`` and ``index.html`` into `out`; returns the page."""
    db = open_store(store)
    trials = results_frame(db)
    s = settings_frame(trials)
    protect = [db.path]
    out = output_folder(out, protect=protect)
    done = trials[trials.status == "done"]
    names = {"distortion_name": str(done.distortion_name.iloc[0]), "perception_name": str(done.perception_name.iloc[0])}
    figures = {"sweep-rd.png": (fig_rd(s, **names), "rate-distortion plane coloured by perception, with R-D curves at constant perception"),
               "sweep-pd.png": (fig_pd(s, **names), "perception-distortion planes: one equi-rate line per rate setting"),
               "sweep-samples.png": (fig_samples(s, db), "decoded test images: one row per rate setting, one column per perception weight")}
    page = Page(title or f"rdpkit sweep report: {Path(db.path).name}", intro=f"{len(trials)} trial(s), {len(done)} finished, {len(s)} setting(s).")
    for name, (fig, caption) in figures.items():
        if fig is not None:
            png = figure_png(fig)
            write_bytes(out / name, png, protect=protect)
            page.figure(png, caption, alt=name)
    write_frame(out / "results.csv", trials, protect=protect)
    write_frame(out / "settings.csv", s, protect=protect)
    shown = ["label", "setting", "seeds", "rate_bits", "distortion", "distortion_stderr", "perception", "perception_stderr"]
    failed = trials[trials.status == "failed"]
    page.section("admissible (non-dominated) settings in rate, distortion and perception").frame(s[s.admissible], shown)
    page.section("BD-rate against the first codec")
    bd = bd_table(s)
    page.frame(bd) if not bd.empty else page.text("one codec only: nothing to compare.")
    page.section("every setting").frame(s, [*shown, "admissible"])
    page.section(f"failed trials ({len(failed)})")
    page.frame(failed, ["key", "label", "setting", "seed", "error"]) if len(failed) else page.text("none")
    return page.write(out / "index.html", protect=protect)
