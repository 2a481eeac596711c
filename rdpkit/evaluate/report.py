"""What `rdpkit evaluate` writes: CSV per image and per setting, CompressAI-format JSON per codec,
an R-D figure per metric, a P-D plane per perception measure (critic or divergence), the decoded
crops side by side, the BD table against an anchor, and one HTML page."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..anchors import ALIASES, RANGES, ResultFile
from ..bdrate import METHODS, BDOverlapWarning, bd_distortion, bd_rate, overlap
from ..errors import InputError, suggestion
from ..interfaces import Estimate
from ..measures import Measurement
from ..report import (
    Page,
    escape,
    figure_png,
    output_folder,
    png_tensor,
    write_bytes,
    write_frame,
)
from .run import Evaluation


def axes(files: Sequence[ResultFile]) -> list[str]:
    """Every quality or distortion measure any curve holds, higher-is-better ones (PSNR, MS-SSIM) first."""
    seen = list(dict.fromkeys(m for f in files for m in f.axes))
    first = [m for m in seen if any(f.higher_is_better(m) for f in files if m in f.measures)]
    return first + [m for m in seen if m not in first]


def per_image_frame(evaluation: Evaluation) -> pd.DataFrame:
    rows = [{"codec": label, "setting": str(t.codec), **row.as_dict()} for label, points in evaluation.curves.items() for t, r in points
            for row in r.images]
    return pd.DataFrame(rows)


def summary_frame(evaluation: Evaluation) -> pd.DataFrame:
    rows = []
    for label, points in evaluation.curves.items():
        for t, r in points:
            row: dict[str, Any] = {"codec": label, "setting": str(t.codec), "images": len(r.images), **r.summary()}
            if r.patch_scores is not None:
                s = r.patch_scores
                row.update(patches=s.patches, features=f"{s.feature_kind}:{s.features}", fid_n=s.fid.n, kid_n=s.kid.n, kid_stderr=s.kid.stderr,
                           kid_field=s.kid_field.value if s.kid_field else None, unreliable="; ".join(f"{k}: {why}" for k, why in r.unreliable().items()))
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["codec", "bpp"]) if rows else pd.DataFrame(rows)


#: The columns of a BD table: one row per curve × metric, each with its numbers or, in `note`, why there are none.
BD_COLUMNS = ("codec", "anchor", "metric", "method", "dataset", "rate", "bd_rate_%", "bd_metric", "overlap", "note")


def _rates(a: ResultFile, f: ResultFile) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Like-for-like rates of the anchor and a curve: (anchor's, curve's, which, a note when they are not like for like).

    rdpkit's results count its container in ``bpp`` and the bare codec bytes in ``payload_bpp``;
    CompressAI's files count bare files. Two curves of one kind compare as they are; across kinds,
    rdpkit's payload bpp is used.
    """
    if a.counts_container == f.counts_container:
        which = "container bpp" if a.counts_container else "file bpp"
        return a.values("bpp"), f.values("bpp"), which, ""
    ours, theirs = (a, f) if a.counts_container else (f, a)
    payload, _ = ours.rate(payload=True)
    if payload is None:
        note = f"{ours.name} states no payload bpp, so its container is counted against the bare files of {theirs.name}"
        return a.values("bpp"), f.values("bpp"), "container bpp vs file bpp", note
    ra, rt = (payload, f.values("bpp")) if ours is a else (a.values("bpp"), payload)
    return ra, rt, "payload bpp vs file bpp", ""


def _refusal(a: ResultFile, f: ResultFile, metric: str) -> str:
    """Why the anchor and a curve give no delta on `metric` before any computation, or ``""``."""
    for which in (f, a):
        if metric not in which.measures:
            return f"{which.name} holds no {metric}"
    if a.dataset and f.dataset and a.dataset != f.dataset:
        return f"{a.name} was measured on {a.dataset} and {f.name} on {f.dataset}; a Bjøntegaard delta compares codecs on the same images"
    lo, hi = RANGES.get("ms-ssim-rgb" if metric == "ms-ssim-db-rgb" else metric, (-np.inf, np.inf))
    for which in (f, a):
        source = "ms-ssim-rgb" if metric == "ms-ssim-db-rgb" and "ms-ssim-rgb" in which.results else metric
        values = which.values(source)
        if source in RANGES and not ((values >= lo) & (values <= hi)).all():
            return f"{which.name}'s {source} values {values.tolist()[:8]} leave [{lo:g}, {hi:g}], so they are no {source}"
    if a.higher_is_better(metric) != f.higher_is_better(metric):
        return f"{a.name} and {f.name} disagree on which way {metric} reads"
    return ""


def bd_frame(files: Sequence[ResultFile], anchor: str, *, method: str = "pchip", metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """BD-rate (%) and BD-metric of every curve against the one called `anchor`: a row per curve and metric, with its numbers or why there are none.

    `metrics`: the axes to compare (aliases such as ``psnr`` allowed) [default: every axis the
    anchor or the curve holds]. Against a curve of another dataset there is no number; a curve
    whose dataset is not stated is compared and labelled. The `rate` column says which rate
    each row compares (see `_rates`); `note` holds the reason for a missing number and every
    warning (too little overlap, a dataset not stated, a container counted against bare files).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    names = [f.name for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"two curves are called {twice[0]!r}; give each curve its own name (the 'name' of its result file).")
    by_name = dict(zip(names, files))
    if anchor not in by_name:
        raise InputError(f"no curve is called {anchor!r}; {suggestion(anchor, by_name) or 'the curves are ' + ', '.join(by_name)}.")
    a = by_name[anchor]
    wanted = None if metrics is None else [ALIASES.get(m, m) for m in metrics]
    rows = []
    for f in files:
        if f is a:
            continue
        ra, rt, which, rate_note = _rates(a, f)
        unstated = [g.name for g in (a, f) if not g.dataset]
        dataset_note = f"the dataset of {' and '.join(unstated)} is not stated: compare only curves measured on the same images" if unstated else ""
        for m in wanted if wanted is not None else axes([a, f]):
            row: dict[str, Any] = {"codec": f.name, "anchor": anchor, "metric": m, "method": method, "dataset": f.dataset or "unknown", "rate": which,
                                   "bd_rate_%": np.nan, "bd_metric": np.nan, "overlap": np.nan}
            why = _refusal(a, f, m)
            if why:
                rows.append({**row, "note": f"n/a: {why}"})
                continue
            (_, qa), (_, qt) = a.curve(m), f.curve(m)
            higher = a.higher_is_better(m)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", BDOverlapWarning)
                    rate = bd_rate(ra, qa, rt, qt, method=method, higher_is_better=higher)  # type: ignore[arg-type]
                    metric = bd_distortion(ra, qa, rt, qt, method=method, higher_is_better=higher)  # type: ignore[arg-type]
            except InputError as exc:
                rows.append({**row, "note": f"n/a: {exc}"})
                continue
            notes = [str(w.message) for w in caught if issubclass(w.category, BDOverlapWarning)] + [n for n in (rate_note, dataset_note) if n]
            rows.append({**row, "bd_rate_%": rate, "bd_metric": metric, "overlap": overlap(qa, qt), "note": "; ".join(dict.fromkeys(notes))})
    return pd.DataFrame(rows, columns=list(BD_COLUMNS))


def bd_wide(bd: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per codec, one BD-rate column per metric (NaN where there is none), the rate compared, and every note as ``metric: note``."""
    metrics = [ALIASES.get(m, m) for m in metrics]
    rows = []
    for codec, group in bd.groupby("codec", sort=False):
        by_metric = {r["metric"]: r for r in group.to_dict(orient="records")}
        notes = [f"{m}: {by_metric[m]['note']}" for m in metrics if m in by_metric and by_metric[m]["note"]]
        rows.append({"codec": codec, **{m: by_metric[m]["bd_rate_%"] if m in by_metric else np.nan for m in metrics},
                     "rate": group["rate"].iloc[0], "notes": notes})
    return pd.DataFrame(rows, columns=["codec", *metrics, "rate", "notes"])


def fig_rd(files: Sequence[ResultFile], measure: str, dataset: str) -> Figure:
    """Every curve on the rate × `measure` plane; anchors dashed."""
    fig = Figure(figsize=(6.4, 4.6), dpi=120)
    ax = fig.add_subplot()
    for f in files:
        if measure not in f.measures:
            continue
        r, q = f.curve(measure)
        order = r.argsort()
        anchor = f.meta.get("source") != "rdpkit"
        ax.plot(r[order], q[order], "--" if anchor else "o-", lw=1.2, ms=3.5, label=f.name + (" (published)" if anchor else ""))
    better = "higher" if any(f.higher_is_better(measure) for f in files if measure in f.measures) else "lower"
    ax.set(xlabel="bits per pixel (from real bytes)", ylabel=f"{measure} ({better} is better)", title=f"{measure} on {dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def perception_axes(evaluation: Evaluation) -> list[str]:
    """The measured columns that say how real the decoded images look: critics and divergences."""
    kinds = {k: c.kind for points in evaluation.curves.values() for _, r in points for k, c in r.columns.items()}
    return [k for k in evaluation.measured() if kinds.get(k) in ("critic", "divergence")]


def distortion_axis(evaluation: Evaluation) -> str:
    """The P-D plane's distortion: the first lower-is-better distortion measured (MSE when asked for), else PSNR."""
    columns = [c for points in evaluation.curves.values() for _, r in points for c in r.columns.values()]
    return next((c.key for c in columns if c.kind == "distortion" and not c.higher_is_better), "psnr-rgb")


def _varied(evaluation: Evaluation, label: str) -> list[str]:
    """The options that differ between the settings of one curve (what tells its points apart)."""
    options = [t.codec.options for t, _ in evaluation.curves[label]]
    keys = dict.fromkeys(k for o in options for k in o)
    return [k for k in keys if len({repr(o.get(k)) for o in options}) > 1]


def _point_label(evaluation: Evaluation, label: str, options: dict[str, Any]) -> str:
    return ",".join(f"{k}={options.get(k)}" for k in _varied(evaluation, label)) or label


def fig_pd(evaluation: Evaluation, perception: str, floor: Estimate | None = None) -> Figure:
    """Every setting on the plane of the distortion axis and `perception` (lower is more realistic), with its interval;
    with `floor` (`Evaluation.resolution`), the band below the upper end of the originals' own interval."""
    x_key = distortion_axis(evaluation)
    fig = Figure(figsize=(7.4, 4.8), dpi=120)
    ax = fig.add_subplot()
    values = []
    for colour, (label, points) in enumerate(evaluation.curves.items()):
        for t, r in points:
            if perception not in r.columns:
                continue
            x = r.summary()[x_key]
            if perception in r.divergences:
                e = r.divergences[perception]
                y, (low, high) = e.value, e.ci or (e.value - 1.96 * e.stderr, e.value + 1.96 * e.stderr)
            else:
                m = Measurement.of([row.values[perception] for row in r.images])
                y, low, high = m.mean, m.mean - 1.96 * m.stderr, m.mean + 1.96 * m.stderr
            values.append(y)
            ax.errorbar(x, y, yerr=[[max(y - low, 0)], [max(high - y, 0)]], fmt="o", color=f"C{colour}", capsize=3, ms=5,
                        label=label if t is points[0][0] else None)
            ax.annotate(f"{_point_label(evaluation, label, t.codec.options)} ({r.summary()['bpp']:.3f} bpp)", (x, y), fontsize=6,
                        xytext=(4, 3), textcoords="offset points")
    positive = [v for v in values if v > 0]
    log = bool(positive) and len(positive) == len(values) and max(positive) > 20 * min(positive)  # one far-off setting would flatten the rest
    if log:
        ax.set_yscale("log")
    if floor is not None and floor.ci[1] > 0:
        ax.axhspan(min(positive) / 10 if log else 0, floor.ci[1], color="0.85", zorder=0,
                   label=f"originals against themselves (95%): below {floor.ci[1]:.3g}")
    ax.locator_params(axis="x", nbins=5)  # MSE ticks such as 0.00407 would run into each other
    ax.set(xlabel=f"{x_key} (mean over images)", ylabel=f"{perception}\n(lower: more realistic; 95% interval)",
           title=f"perception-distortion plane on {evaluation.dataset.name}")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def resolution_sentence(name: str, floor: Estimate) -> str:
    """What `Evaluation.resolution` found for the divergence `name`, in one sentence."""
    low, high = floor.ci
    return (f"{name}: the originals against themselves (what a decoder returning them exactly would read, {floor.n} patches, the same "
            f"bootstrap) read {floor.value:.3g} [{low:.3g}, {high:.3g}]; a setting whose interval reaches below {high:.3g} cannot be told "
            "from perfect realism on these images, and two settings whose intervals overlap are not told apart.")


def resolution_frame(floors: dict[str, Estimate]) -> pd.DataFrame:
    """`Evaluation.resolution` as a table: divergence, n, value and its interval."""
    return pd.DataFrame([{"divergence": k, "n": e.n, "value": e.value, "ci_low": e.ci[0], "ci_high": e.ci[1]} for k, e in floors.items()])


def fig_crops(evaluation: Evaluation) -> Figure | None:
    """The centre of the first image as each setting decodes it: one row per curve, settings by rate."""
    rows = [(label, sorted((r.summary()["bpp"], t, r) for t, r in points if r.crop is not None)) for label, points in evaluation.curves.items()]
    rows = [(label, row) for label, row in rows if row]
    if not rows:
        return None
    width = max(len(row) for _, row in rows)
    fig = Figure(figsize=(2.2 * width, 2.4 * len(rows)), dpi=130)
    axes = fig.subplots(len(rows), width, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax_row, (label, row) in zip(axes, rows):
        for ax, (bpp, t, r) in zip(ax_row, row):
            ax.imshow(png_tensor(r.crop)[0].permute(1, 2, 0).numpy(), interpolation="nearest")  # type: ignore[arg-type]
            ax.set_title(f"{label}\n{_point_label(evaluation, label, t.codec.options)}, {bpp:.3f} bpp", fontsize=6)
    fig.tight_layout()
    return fig


def write(evaluation: Evaluation, out: str | Path, *, bd_anchor: str | None = None, method: str = "pchip") -> Path:
    """Write every output into the folder `out`; returns the HTML page."""
    protect = [evaluation.store]
    out = output_folder(out, protect=protect)
    files = evaluation.result_files()
    if not files:
        raise InputError("no codec setting finished, so there is nothing to report; see the failures above.")
    per_image, summary = per_image_frame(evaluation), summary_frame(evaluation)
    write_frame(out / "per-image.csv", per_image, protect=protect)
    write_frame(out / "summary.csv", summary, protect=protect)
    curves = files[: len(evaluation.curves)]
    for f, stem in zip(curves, file_stems([f.name for f in curves])):
        f.write(out / "results" / f"{stem}.json", protect=protect)
    anchor = bd_anchor or (evaluation.anchors[0].name if evaluation.anchors else files[0].name)
    bd = bd_frame(files, anchor, method=method) if len(files) > 1 else pd.DataFrame()
    write_frame(out / "bd.csv", bd, protect=protect)
    ds = evaluation.dataset
    page = Page(f"rdpkit evaluate: {ds.name}", intro=f"{len(ds.images)} images; {sum(len(p) for p in evaluation.curves.values())} codec settings.")
    for m in axes(files):
        png = figure_png(fig_rd(files, m, ds.name))
        write_bytes(out / f"rd-{_slug(m)}.png", png, protect=protect)
        page.figure(png, f"rate-distortion curves: {m}", alt=f"rd-{m}")
    floors = evaluation.resolution()
    if floors:
        write_frame(out / "resolution.csv", resolution_frame(floors), protect=protect)
    for m in perception_axes(evaluation):
        png = figure_png(fig_pd(evaluation, m, floors.get(m)))
        write_bytes(out / f"pd-{_slug(m)}.png", png, protect=protect)
        page.figure(png, f"perception-distortion plane: {m} against {distortion_axis(evaluation)}", alt=f"pd-{m}")
        if m in floors:
            page.note(resolution_sentence(m, floors[m]))
    crops = fig_crops(evaluation)
    if crops is not None:
        png = figure_png(crops)
        write_bytes(out / "crops.png", png, protect=protect)
        page.figure(png, f"the centre of {Path(evaluation.dataset.images[0]).name} as each setting decodes it", alt="crops")
    page.section(f"BD-rate and BD-metric against {anchor} ({method})")
    if bd.empty:
        page.text("one curve only: nothing to compare.")
    else:
        page.text("BD-rate: the mean rate difference at equal quality (negative: fewer bits than the anchor). BD-metric: the mean "
                  "difference of the metric at equal rate (positive: higher than the anchor, better for PSNR and MS-SSIM, worse for "
                  "distortions and FID). overlap: the share of the shorter curve's range both cover. dataset: the images the curve was "
                  "measured on (no number against an anchor of other images). rate: which rate is compared — rdpkit's container bpp "
                  "between rdpkit's curves, its payload bpp (the codec's bytes alone) against published curves, which count bare files. "
                  "note: why a row has no number, and every warning.")
        page.frame(bd.drop(columns=["anchor", "method"]))
    page.section("Every setting").frame(summary)
    scores = [r.patch_scores for points in evaluation.curves.values() for _, r in points if r.patch_scores is not None]
    if scores:
        s = scores[0]
        label = {"random-feature": " — random features: not FID", "hand-crafted": " — hand-crafted features: not comparable with Inception FID",
                 "self-trained": " — features of a model this project trained: not comparable with Inception FID"}.get(s.feature_kind, "")
        size = next(iter(evaluation.curves.values()))[0][0].patch_size
        page.section("FID and KID on patches").text(
            f"Each image cut into {size}-pixel patches "
            f"(and a second grid shifted by half a patch where both sides allow), quantised to 8 bits; {s.patches} patches per setting; "
            f"features: {s.features} ({s.feature_kind}){label}. KID ({s.kid.quantity}): original patch i and decoded patch i are one "
            "place of one image, so the statistic leaves out each patch's similarity to its own decoding (the paired u-statistic); "
            "kid_field is KID as torch-fidelity computes it for two independent sets (mean over random subsets), for comparison "
            f"with published numbers only. {s.fid.details.get('bias', '')}. Values from fewer patches than rdpkit's minimum are "
            "listed in the table with why, and neither drawn nor compared.")
    if evaluation.left_out:
        page.section("Left out").table(["what", "why"], evaluation.left_out.items())
    if evaluation.failed:
        page.section("Settings that failed").table(["setting", "error"], evaluation.failed.items())
    page.section("Files").raw("<ul>" + "".join(f"<li class='mono'>{escape(p.relative_to(out))}</li>" for p in sorted(out.rglob("*")) if p.is_file()) + "</ul>")
    return page.write(out / "index.html", protect=protect)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100] or "curve"


def file_stems(names: Sequence[str]) -> list[str]:
    """One file name stem per curve label, distinct even where labels share their first 100 characters, differ only
    in characters a file name cannot hold, or only in case: such a stem ends in a digest of the whole label."""
    import hashlib

    stems: list[str] = []
    for name in names:
        stem = _slug(name)
        if stem != name or stem.casefold() in {s.casefold() for s in stems}:
            stem = f"{stem[:91]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
        stems.append(stem)
    return stems
