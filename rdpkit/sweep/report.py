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
from collections.abc import Iterator
from contextlib import contextmanager
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
from ..pareto import CONFIDENCE, indistinguishable, lower_envelope, non_dominated, samples_to_resolve
from ..report import Page, figure_png, output_folder, write_bytes, write_frame
from ..store import Store
from .trial import SweepResult, SweepTrial

SETTING_COLUMNS = ["label", "codec", "setting"]


@contextmanager
def open_store(store: Store | str | Path) -> Iterator[Store]:
    """`store` itself, or an existing result store opened read-only for the block and closed after it, leaving nothing beside it
    (a missing file or another application's database is refused)."""
    if isinstance(store, Store):
        yield store
        return
    with Store(store, readonly=True) as db:
        yield db


def trial_rows(db: Store) -> list[tuple[Any, SweepTrial, SweepResult | None]]:
    """Every sweep trial of the store: (stored row, trial, result or None); a row that does not read is refused (InputError)."""
    return SweepTrial.stored(db)  # type: ignore[return-value]


def results_frame(store: Store | str | Path) -> pd.DataFrame:
    """One row per sweep trial: configuration, status and `SweepResult.row()`.

    Columns: ``key, status, label, codec, seed, setting`` (the options as JSON), ``opt.<option>``
    per option, ``rate_setting`` (the options but the perception weight), then the result's
    columns (``rate_bits``, ``bpp``, ``distortion``, ``perception`` with their stderr, the perception weight under the codec's name for it
    (``lam``, ``lam_p``) and as ``weight`` with its name in ``weight_option``,
    ``D.<name>``, ``P.<name>``, ``C.<name>``, times, device) and ``error``.
    """
    with open_store(store) as db:
        stored_rows = trial_rows(db)
    rows = []
    for stored, trial, result in stored_rows:
        options = trial.codec.options
        row: dict[str, Any] = {"key": stored.key, "status": stored.status, "label": trial.label, "codec": trial.codec.name,
                               "seed": trial.seed, "setting": json.dumps(options, sort_keys=True)}
        row.update({f"opt.{k}": v for k, v in options.items()})
        if result is not None:
            row["rate_setting"] = json.dumps({k: v for k, v in options.items() if k != result.perception_weight}, sort_keys=True)
            row.update(result.row(), perception_n=result.perception.estimate.n)
        else:
            row["seconds"] = stored.seconds
        row["error"] = stored.error
        rows.append(row)
    return pd.DataFrame(rows)


def settings_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials averaged over seeds: one row per (codec, options), with `admissible` and the perception ties (`with_ties`).

    The standard error of a setting run under one seed is the trial's own; under several,
    the spread of the seeds' means. A setting is admissible unless another one is no worse in
    rate, distortion and perception and better in one by more than the 95 % interval of the
    difference (`rdpkit.pareto.non_dominated`; rates are exact).
    """
    if trials.empty or "distortion" not in trials:
        raise InputError("the store holds no finished sweep trial yet; run `rdpkit sweep` (or wait for it) first.")
    done = trials[trials.status == "done"]
    agg = []
    for (label, codec, setting), g in done.groupby(SETTING_COLUMNS, sort=False):
        row = {"label": label, "codec": codec, "setting": setting, "seeds": len(g), "key": g.key.iloc[0],
               "rate_setting": g.rate_setting.iloc[0], "weight_option": g.weight_option.iloc[0], "weight": float(g.weight.iloc[0]),
               "perception_n": int(g.perception_n.iloc[0])}
        row.update({k: g[k].iloc[0] for k in g.columns if k.startswith("opt.")})
        for col in ("rate_bits", "bpp", "distortion", "perception", *measure_columns(g)):
            se = f"{col}.stderr" if col[:2] in MEASURE_PREFIXES else f"{col}_stderr"
            row[col] = float(g[col].mean())
            own = float(g[se].iloc[0]) if se in g else 0.0  # rates are exact
            row[se] = float(g[col].std(ddof=1) / math.sqrt(len(g))) if len(g) > 1 else own
        agg.append(row)
    out = pd.DataFrame(agg)
    # Settings that differ only in λ share a rate setting; its mean rate places them on one abscissa.
    out["rate_group_bits"] = out.groupby(["label", "rate_setting"]).rate_bits.transform("mean")
    stderr = np.c_[np.zeros(len(out)), out[["distortion_stderr", "perception_stderr"]].to_numpy(dtype=np.float64)]
    out["admissible"] = non_dominated(out[["rate_bits", "distortion", "perception"]].to_numpy(), stderr)
    return with_ties(out, out.perception_n)


#: Table headings for the columns whose names are identifiers (a heading that is one long word cannot wrap).
READABLE = {"rate_bits": "rate (bits)", "distortion_stderr": "distortion stderr", "perception_stderr": "perception stderr",
            "perception_ties": "perception tied with (settings)", "perception_samples_to_resolve": "samples per set to resolve the ties"}

#: The prefixes of every declared measure's column (`SweepResult.row`), and what each kind is.
MEASURE_PREFIXES = {"D.": "distortions (mean over the test images; lower is better)",
                    "P.": "divergences between the originals and the decoded images (lower is better)",
                    "C.": "critics: mean score of the decoded images (lower looks more real)"}


def measure_columns(df: pd.DataFrame, prefix: str | None = None) -> list[str]:
    """The columns of `df` holding a declared measure (``D.mse``, ``P.frechet``, ``C.niqe``; not their ``.stderr``), of one kind with `prefix`."""
    return [c for c in df.columns if (c[:2] == prefix if prefix else c[:2] in MEASURE_PREFIXES) and not c.endswith(".stderr")]


def with_ties(df: pd.DataFrame, n: Any) -> pd.DataFrame:
    """`df` (columns ``perception``, ``perception_stderr``) with ``perception_ties``, how many other rows' perception
    the 95 % interval of the difference cannot tell from this one's, and ``perception_samples_to_resolve``, the
    samples per set (`n` now) that would tell it from all of them if the differences stay as measured."""
    values, stderr = df.perception.to_numpy(dtype=np.float64), df.perception_stderr.to_numpy(dtype=np.float64)
    df["perception_ties"] = indistinguishable(values, stderr).sum(axis=1)
    df["perception_samples_to_resolve"] = samples_to_resolve(values, stderr, pd.to_numeric(n).to_numpy(dtype=np.float64))
    return df


def perception_note(df: pd.DataFrame, what: str = "setting") -> str:
    """One paragraph on the perception values of `df` (from `with_ties`) that the intervals cannot tell apart."""
    tied = df[df.perception_ties > 0]
    level = f"{CONFIDENCE:.0%}"
    if tied.empty:
        return f"Every {what}'s perception index is told from every other's by the {level} interval of their difference."
    n = sorted({int(v) for v in tied.perception_n.dropna()})
    samples = f", from {n[0]} samples per set" if len(n) == 1 else f", from {n[0]} to {n[-1]} samples per set" if n else ""
    text = (f"{len(tied)} of {len(df)} {what}s have a perception index that the {level} interval of the difference cannot tell from "
            f"another {what}'s (values {tied.perception.min():.4g} to {tied.perception.max():.4g}, standard errors up to "
            f"{tied.perception_stderr.max():.3g}{samples}): their order in perception decides nothing, and the admissible set "
            f"counts a {what} as beaten only by differences outside the intervals.")
    need = tied.perception_samples_to_resolve
    finite = need[np.isfinite(need)]
    if len(finite):
        text += (f" If the differences stay as measured, telling each of them from every other would take "
                 f"{finite.min():,.0f}{'' if finite.min() == finite.max() else f' to {finite.max():,.0f}'} samples per set.")
    if len(finite) < len(need):
        text += f" {len(need) - len(finite)} of them are tied with an equal value, or have no standard error or sample count, which no number of samples settles."
    return text


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


#: One colour and one marker per codec, in the order the sweep declares them (tab10 after that repeats colours, never markers and colours together).
CODEC_COLOURS = [colormaps["tab10"](i) for i in range(10)]
CODEC_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h"]
#: Sequential maps for the equi-rate lines of the P-D figure: one hue per codec, darker for more bits.
CODEC_SHADES = ["Blues", "Oranges", "Greens", "Reds", "Purples", "Greys", "YlOrBr", "PuRd", "BuGn", "GnBu"]


def _codec_styles(s: pd.DataFrame) -> dict[str, tuple[Any, str, str]]:
    """label → (colour, marker, shades) for each codec of `s`, in order of first appearance."""
    labels = list(dict.fromkeys(s.label))
    return {label: (CODEC_COLOURS[i % 10], CODEC_MARKERS[i % len(CODEC_MARKERS)], CODEC_SHADES[i % len(CODEC_SHADES)]) for i, label in enumerate(labels)}


def fig_rd(s: pd.DataFrame, *, distortion_name: str = "distortion", perception_name: str = "perception") -> Figure:
    """R-D plane: each codec's trials in its own marker and edge colour, filled by perception; its operational
    R-D curve (solid) and its curves at constant P (dashed, dotted) in its own colour."""
    fig = Figure(figsize=(6.4, 4.6), dpi=130)
    ax = fig.add_subplot()
    styles = ["--", ":", "-."]
    codecs = _codec_styles(s)
    for label, g in s.groupby("label", sort=False):
        colour, marker, _ = codecs[label]
        sc = ax.scatter(g.rate_bits, g.distortion, c=g.perception, cmap="viridis", vmin=s.perception.min(), vmax=s.perception.max(),
                        marker=marker, s=40, zorder=3, edgecolors=colour, linewidths=1.3)
        base = g[g.weight == 0] if (g.weight == 0).any() else g
        idx = lower_envelope(base.rate_bits, base.distortion)
        what = "λ = 0" if (g.weight == 0).any() else "all settings"
        ax.plot(base.rate_bits.iloc[idx], base.distortion.iloc[idx], "-", color=colour, marker=marker, mfc="white", ms=5, lw=1.6,
                zorder=2, label=f"{label}: R-D curve ({what})")
        for style, p in zip(styles, perception_levels(g)):
            r, d = curve_at_perception(g.rate_group_bits, g.distortion, g.perception, p)
            if len(r) >= 2:
                ax.plot(r, d, style, color=colour, lw=1.3, zorder=2, label=f"{label}: R-D curve at P ≤ {p:.3g}")
    fig.colorbar(sc, ax=ax, label=_axis_label(f"perception index ({perception_name}; lower is better): the markers' fill", 60))
    ax.set_xlabel("rate (bits per image, measured from bitstreams)")
    ax.set_ylabel(_axis_label(f"distortion ({distortion_name})"))
    ax.set_title("rate-distortion-perception: one colour and marker per codec")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_pd(s: pd.DataFrame, *, distortion_name: str = "distortion", perception_name: str = "perception") -> Figure:
    """Perception-distortion planes: one equi-rate line per rate setting, through its λ values.

    Each codec has its own hue and marker, its lines darker for more bits and labelled with
    their rate at their λ = 0 end; the legend names the codecs, not the lines.
    """
    fig = Figure(figsize=(7.4, 4.8), dpi=130)
    ax = fig.add_subplot()
    codecs = _codec_styles(s)
    for label, g in s.groupby("label", sort=False):
        _, marker, shades = codecs[label]
        lines = sorted(g.groupby("rate_setting", sort=False), key=lambda kv: float(kv[1].rate_bits.mean()))
        for i, (_, line) in enumerate(lines):
            line = line.sort_values("weight")
            colour = colormaps[shades](0.45 + 0.5 * i / max(len(lines) - 1, 1))
            ax.plot(line.distortion, line.perception, "-", marker=marker, color=colour, ms=4.5, lw=1.2,
                    label=f"{label} ({len(lines)} rate{'s' if len(lines) > 1 else ''}; darker: more bits)" if i == len(lines) - 1 else None)
            first = line.iloc[0]
            rate = float(line.rate_bits.mean())
            ax.annotate(f"{rate:.0f} b" if rate >= 100 else f"{rate:.3g} b", (first.distortion, first.perception), fontsize=6, color=colour,
                        xytext=(-3, -8), textcoords="offset points", ha="right")
            for _, row in line.iterrows():
                if not math.isnan(row.weight):
                    ax.annotate(f"{row.weight_option}={row.weight:g}", (row.distortion, row.perception), fontsize=5.5, color="0.35",
                                xytext=(3, 3), textcoords="offset points")
    adm = s[s.admissible]
    ax.scatter(adm.distortion, adm.perception, s=110, facecolors="none", edgecolors="tab:green", linewidths=1.2,
               label="admissible in (R, D, P), beyond the intervals")
    ax.set_xlabel(_axis_label(f"distortion ({distortion_name}); labels: rate in bits per image", 90))
    values = s.perception[np.isfinite(s.perception)]
    spread = bool(len(values)) and values.min() > 0 and values.max() > 20 * values.min()
    if spread:  # one far-off setting would flatten every other onto the axis
        ax.set_yscale("log")
    ax.set_ylabel(_axis_label(f"perception index ({perception_name}{', log scale' if spread else ''})"))
    ax.set_title("perception-distortion planes: equi-rate lines")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the plane: it hides no point
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
    width = 1.9  # inches per image column; each row as tall as its images at that width, and a title line
    fig = Figure(figsize=(width * len(lams) + 1.2, (width * original.shape[0] / original.shape[1] + 0.25) * (len(groups) + 1)), dpi=130)
    axes = fig.subplots(len(groups) + 1, len(lams), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].imshow(original, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[0, 0].set_title("originals", fontsize=8)
    for i, ((label, _), g) in enumerate(groups, start=1):
        unweighted = bool(g.weight.isna().all())  # a codec without a perception weight: its one image in the first column
        for j, lam in enumerate(lams[:1] if unweighted else lams):
            match = g if unweighted or math.isnan(lam) else g[g.weight == lam]
            samples = image(match.key.iloc[0], "samples.png") if len(match) else None
            if samples is None:
                continue
            ax = axes[i, j]
            ax.imshow(samples, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            if not unweighted and not math.isnan(lam) and (i == 1 or groups[i - 2][1].weight.isna().all()):
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


def _footnoted(bd: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`bd` with each "n/a: reason" cell replaced by "n/a [k]", and the reasons k = 1, 2, ... (a table of paragraphs fits no page)."""
    reasons: list[str] = []

    def cell(value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith("n/a: ")):
            return value
        if value[5:] not in reasons:
            reasons.append(value[5:])
        return f"n/a [{reasons.index(value[5:]) + 1}]"

    return bd.map(cell), reasons


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
    with open_store(store) as db:
        return _write_report(db, out, title)


def _write_report(db: Store, out: str | Path, title: str | None) -> Path:
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
    page.section("admissible (non-dominated) settings in rate, distortion and perception")
    page.note(perception_note(s)).frame(s[s.admissible].rename(columns=READABLE), [READABLE.get(c, c) for c in shown])
    page.section("BD-rate against the first codec")
    bd = bd_table(s)
    if bd.empty:
        page.text("one codec only: nothing to compare.")
    else:
        bd, reasons = _footnoted(bd)
        page.frame(bd)
        for i, reason in enumerate(reasons, start=1):
            page.text(f"[{i}] {reason}", "muted")
    every = s.assign(perception_samples_to_resolve=[int(v) if math.isfinite(v) else "never (an equal value, or no standard error)"
                                                    for v in s.perception_samples_to_resolve])
    page.section("every setting").frame(every.rename(columns=READABLE), [READABLE.get(c, c) for c in [*shown, "admissible", "perception_ties", "perception_samples_to_resolve"]])
    for prefix, what in MEASURE_PREFIXES.items():
        columns = measure_columns(s, prefix)
        if columns:
            page.section(f"every declared measure: {what}")
            page.table(["label", "setting", *(h for c in columns for h in (c[2:], "± stderr"))],
                       ([r["label"], r["setting"], *(v for c in columns for v in (r[c], r[f"{c}.stderr"]))] for r in s.to_dict("records")))
    page.section(f"failed trials ({len(failed)})")
    page.frame(failed, ["key", "label", "setting", "seed", "error"]) if len(failed) else page.text("none")
    return page.write(out / "index.html", protect=protect)
