"""What `rdpkit evaluate` writes: CSV per image and per setting, CompressAI-format JSON per codec,
an R-D figure per metric, the BD table against an anchor, and one HTML page."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..anchors import ResultFile
from ..bdrate import METHODS, BDOverlapWarning, bd_distortion, bd_rate, overlap
from ..errors import InputError, suggestion
from ..report import Page, escape, figure_png, output_folder
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
                row.update(patches=s.patches, features=f"{s.feature_kind}:{s.features}", fid_n=s.fid.n, kid_stderr=s.kid.stderr,
                           kid_subset_size=s.kid.details.get("subset_size"))
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["codec", "bpp"]) if rows else pd.DataFrame(rows)


def bd_frame(files: Sequence[ResultFile], anchor: str, *, method: str = "pchip") -> pd.DataFrame:
    """BD-rate (%) and BD-metric of every curve against the one called `anchor`, on every axis both hold."""
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
    rows = []
    for f in files:
        if f is a:
            continue
        for m in axes([f]):
            if m not in a.measures:
                continue
            row: dict[str, Any] = {"codec": f.name, "anchor": anchor, "metric": m, "method": method}
            (ra, qa), (rt, qt) = a.curve(m), f.curve(m)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", BDOverlapWarning)
                    row["bd_rate_%"] = bd_rate(ra, qa, rt, qt, method=method)  # type: ignore[arg-type]
                    row["bd_metric"] = bd_distortion(ra, qa, rt, qt, method=method)  # type: ignore[arg-type]
                row["overlap"] = overlap(qa, qt)
                row["note"] = "; ".join(str(w.message) for w in caught)
            except InputError as exc:
                row["note"] = f"n/a: {exc}"
            rows.append(row)
    return pd.DataFrame(rows)


def bd_wide(bd: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per codec, one BD-rate column per metric (the README's table)."""
    if bd.empty:
        return bd
    table = bd[bd.metric.isin(metrics)].pivot_table(index="codec", columns="metric", values="bd_rate_%", aggfunc="first")
    return table.reindex(columns=[m for m in metrics if m in table.columns]).reset_index()


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


def write(evaluation: Evaluation, out: str | Path, *, bd_anchor: str | None = None, method: str = "pchip") -> Path:
    """Write every output into the folder `out`; returns the HTML page."""
    out = output_folder(out)
    files = evaluation.result_files()
    if not files:
        raise InputError("no codec setting finished, so there is nothing to report; see the failures above.")
    per_image, summary = per_image_frame(evaluation), summary_frame(evaluation)
    per_image.to_csv(out / "per-image.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    for f in files[: len(evaluation.curves)]:
        f.write(out / "results" / f"{_slug(f.name)}.json")
    anchor = bd_anchor or (evaluation.anchors[0].name if evaluation.anchors else files[0].name)
    bd = bd_frame(files, anchor, method=method) if len(files) > 1 else pd.DataFrame()
    bd.to_csv(out / "bd.csv", index=False)
    ds = evaluation.dataset
    page = Page(f"rdpkit evaluate: {ds.name}", intro=f"{len(ds.images)} images; {sum(len(p) for p in evaluation.curves.values())} codec settings.")
    for m in axes(files):
        png = figure_png(fig_rd(files, m, ds.name))
        (out / f"rd-{_slug(m)}.png").write_bytes(png)
        page.figure(png, f"rate-distortion curves: {m}", alt=f"rd-{m}")
    page.section(f"BD-rate and BD-metric against {anchor} ({method})")
    if bd.empty:
        page.text("one curve only: nothing to compare.")
    else:
        page.text("BD-rate: the mean rate difference at equal quality (negative: fewer bits than the anchor). BD-metric: the mean "
                  "difference of the metric at equal rate (positive: higher than the anchor, better for PSNR and MS-SSIM, worse for "
                  "distortions and FID). overlap: the share of the shorter curve's range both cover.")
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
            f"features: {s.features} ({s.feature_kind}){label}. KID: the mean over {s.kid.details.get('subsets')} random subsets of "
            f"{s.kid.details.get('subset_size')} patches. {s.fid.details.get('bias', '')}.")
    if evaluation.left_out:
        page.section("Left out").table(["what", "why"], evaluation.left_out.items())
    if evaluation.failed:
        page.section("Settings that failed").table(["setting", "error"], evaluation.failed.items())
    page.section("Files").raw("<ul>" + "".join(f"<li class='mono'>{escape(p.relative_to(out))}</li>" for p in sorted(out.rglob("*")) if p.is_file()) + "</ul>")
    return page.write(out / "index.html")


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100] or "curve"
