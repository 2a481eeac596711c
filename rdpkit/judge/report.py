"""What `rdpkit judge` writes: the per-image scores (CSV), a table per dataset with intervals and the
published values beside the measured ones, per distortion type, the differences between metrics
with paired intervals, scatter plots of metric against MOS with the fitted logistic, and one page.

Statistics (rdpkit.judge.statistics): SRCC, KRCC, PLCC, and PLCC and RMSE after the VQEG
5-parameter logistic, signed so that a positive correlation means the metric agrees with people
whatever its direction and whether the dataset gives MOS or DMOS; 95 % intervals from a
bootstrap over reference images (each distorted image brings its reference's others along);
BAPPS: the 2AFC score and JND mAP of the LPIPS paper, with intervals over triplets and pairs.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..options import Component
from ..report import Page, escape, figure_png, output_folder, write_bytes, write_csv
from . import statistics as st
from .datasets import Pairs2AFC, Ratings
from .published import published
from .run import Judgement, Scored

#: Bootstrap replicates of every interval; the per-type table bootstraps SRCC only (its logistic refits cost the most).
N_BOOT = 1000


def _usable(ds: Ratings, scored: Scored) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """The items `scored` has a score for: scores, subjective scores, bootstrap units, types."""
    keep = [i for i, s in enumerate(scored.scores) if s is not None]
    items = [ds.items[i] for i in keep]
    return (np.array([scored.scores[i] for i in keep], dtype=float), np.array([it.score for it in items], dtype=float),
            [it.unit for it in items], [it.kind for it in items])


def _published(dataset: str, metric: Component) -> dict[str, Any]:
    """The published values of the same metric on the same dataset: exactly this component, or another implementation of it."""
    found = [v for v in published(dataset) if v.rdpkit_metric == metric.name or metric.name in v.comparable]
    if metric.options or not found:
        return {}
    out: dict[str, Any] = {f"published_{v.statistic}": v.value for v in found}
    v = found[0]
    same = v.rdpkit_metric == metric.name
    out["published_source"] = f"{v.source} ({v.metric}{'' if same else ', another implementation'}): {v.protocol}"
    return out


def _agreement_row(ds: Ratings, x: np.ndarray, y: np.ndarray, units: list[str], statistics: tuple[str, ...], *, n_boot: int,
                   seed: int) -> tuple[dict[str, Any], st.Agreement | None]:
    """`statistics` with their intervals, or the one sentence saying why there are none (too few images or references)."""
    try:
        a = st.agreement(x, y, higher_is_better=False, subjective_higher_is_better=ds.higher_is_better, groups=units, n_boot=n_boot,
                         seed=seed, intervals_for=statistics)
    except InputError as exc:
        return {"note": str(exc)}, None
    row: dict[str, Any] = {}
    for name in statistics:
        row[name] = getattr(a, name)
        row[f"{name}_low"], row[f"{name}_high"] = a.intervals.get(name, (math.nan, math.nan))
    return row, a


def ratings_rows(judgement: Judgement, dataset: str, *, n_boot: int = N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """One row per metric: n, the statistics with their intervals, and the published values beside them."""
    ds = judgement.datasets[dataset]
    assert isinstance(ds, Ratings)
    rows = []
    for scored in judgement.metrics(dataset):
        x, y, units, _ = _usable(ds, scored)
        row: dict[str, Any] = {"dataset": dataset, "metric": str(scored.metric), "kind": scored.kind, "n": len(x), "not_scored": len(ds) - len(x)}
        values, a = _agreement_row(ds, x, y, units, st.STATISTICS, n_boot=n_boot, seed=seed)
        row.update(values)
        if a is not None:
            row.update(references=a.n_groups, fit=a.logistic.kind, note=a.logistic.note, **_published(dataset, scored.metric))
        rows.append(row)
    return rows


def type_rows(judgement: Judgement, dataset: str, *, n_boot: int = N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """SRCC (with its interval) of every metric on each distortion type of a rated set."""
    ds = judgement.datasets[dataset]
    assert isinstance(ds, Ratings)
    rows = []
    for scored in judgement.metrics(dataset):
        x, y, units, types = _usable(ds, scored)
        for kind in dict.fromkeys(types):
            at = [i for i, t in enumerate(types) if t == kind]
            values, _ = _agreement_row(ds, x[at], y[at], [units[i] for i in at], ("srcc",), n_boot=n_boot, seed=seed)
            rows.append({"dataset": dataset, "metric": str(scored.metric), "type": kind, "n": len(at), **values})
    return rows


def difference_rows(judgement: Judgement, dataset: str, *, n_boot: int = N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """SRCC of each pair of metrics, a − b, with the paired bootstrap interval over the images both scored."""
    ds = judgement.datasets[dataset]
    assert isinstance(ds, Ratings)
    rows = []
    for a, b in itertools.combinations(judgement.metrics(dataset), 2):
        both = [i for i, (p, q) in enumerate(zip(a.scores, b.scores)) if p is not None and q is not None]
        d = st.paired_difference([a.scores[i] for i in both], [b.scores[i] for i in both], [ds.items[i].score for i in both],
                                 higher_is_better_a=False, higher_is_better_b=False, subjective_higher_is_better=ds.higher_is_better,
                                 groups=[ds.items[i].unit for i in both], n_boot=n_boot, seed=seed)
        rows.append({"dataset": dataset, "a": str(a.metric), "b": str(b.metric), "statistic": d.statistic, "difference": d.difference,
                     "low": d.interval[0], "high": d.interval[1], "real": "yes" if d.significant else "no (interval holds 0)"})
    return rows


def bapps_rows(judgement: Judgement, dataset: str, *, n_boot: int = N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """BAPPS: per metric and subset (and all together), the 2AFC score or the JND mAP with its interval."""
    ds = judgement.datasets[dataset]
    two_afc = isinstance(ds, Pairs2AFC)
    rows = []
    for scored in judgement.metrics(dataset):
        s = scored.scores
        for subset in [*ds.subsets(), "all"]:
            idx = [i for i, item in enumerate(ds.items) if subset in ("all", item.subset)]
            if two_afc:
                idx = [i for i in idx if s[2 * i] is not None and s[2 * i + 1] is not None]
                score = st.two_afc([s[2 * i] for i in idx], [s[2 * i + 1] for i in idx], [ds.items[i].judge for i in idx],
                                   n_boot=n_boot, seed=seed)
            else:
                idx = [i for i in idx if s[i] is not None]
                score = st.jnd_map([s[i] for i in idx], [ds.items[i].same for i in idx], n_boot=n_boot, seed=seed)  # type: ignore[union-attr]
            low, high = score.interval or (math.nan, math.nan)
            rows.append({"dataset": dataset, "metric": str(scored.metric), "subset": subset, score.name: score.value, "low": low,
                         "high": high, "n": score.n})
    return rows


def per_item_rows(judgement: Judgement) -> list[dict[str, Any]]:
    """One row per scored image of a rated set: the dataset's own columns, then each metric's score (empty where refused)."""
    rows = []
    for name, ds in judgement.datasets.items():
        if not isinstance(ds, Ratings):
            continue
        metrics = judgement.metrics(name)
        for i, item in enumerate(ds.items):
            rows.append({"dataset": name, "image": item.name, "type": item.kind, ds.scale: item.score, "unit": Path(item.unit).name,
                         **{str(m.metric): m.scores[i] for m in metrics}})
    return rows


def fig_scatter(ds: Ratings, scored: Scored, agreement: st.Agreement | None) -> Figure:
    """The metric against the subjective score, one point per image, with the fitted logistic."""
    x, y, _, types = _usable(ds, scored)
    fig = Figure(figsize=(5.2, 4.0), dpi=110)
    ax = fig.add_subplot()
    kinds = list(dict.fromkeys(types))
    colours = [kinds.index(t) for t in types]
    ax.scatter(x, y, c=colours, cmap="tab20", s=6, alpha=0.6, linewidths=0)
    if agreement is not None:
        grid = np.linspace(float(x.min()), float(x.max()), 200)
        ax.plot(grid, agreement.logistic.predict(grid), "k-", lw=1.2, label=f"logistic ({agreement.logistic.kind})")
        ax.legend(fontsize=7)
        ax.set_title(f"{scored.metric} on {ds.name}: SRCC {agreement.srcc:.3f}, PLCC after the fit {agreement.plcc_logistic:.3f}", fontsize=8)
    ax.set(xlabel=f"{scored.metric} ({scored.kind}: lower is better)", ylabel=f"{ds.scale} ({'higher' if ds.higher_is_better else 'lower'} is better)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write(judgement: Judgement, out: str | Path, *, n_boot: int = N_BOOT, seed: int = 0) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    """Every output into the folder `out`; returns the page and the tables (``agreement``, ``types``, ``differences``, ``bapps``,
    ``left_out``: the image files that do not read, with why and how many judgments of their set were dropped)."""
    protect = [judgement.store]
    out = output_folder(out, protect=protect)
    tables: dict[str, list[dict[str, Any]]] = {"agreement": [], "types": [], "differences": [], "bapps": [], "left_out": []}
    page = Page("rdpkit judge", intro=f"{len(judgement.datasets)} dataset(s), {len({m for _, m in judgement.scored})} metric(s); "
                "correlations are signed so that positive means the metric agrees with people; intervals: 95 %, bootstrap over "
                f"reference images ({n_boot} replicates).")
    for name, ds in judgement.datasets.items():
        page.section(f"{name} ({len(ds)} {'images' if isinstance(ds, Ratings) else 'items'})")
        left_out = judgement.left_out.get(name)
        if left_out is not None:
            page.note(left_out.sentence(name)).table(["file", "why"], left_out.files.items())
            tables["left_out"] += [{"dataset": name, "file": f, "why": why, "judgments_dropped": left_out.judgments} for f, why in left_out.files.items()]
        for scored in judgement.metrics(name):
            if scored.refused():
                page.note(escape(scored.refused()))
        if isinstance(ds, Ratings):
            rows = ratings_rows(judgement, name, n_boot=n_boot, seed=seed)
            tables["agreement"] += rows
            page.table(["metric", "n", "SRCC", "KRCC", "PLCC", "PLCC (logistic)", "RMSE", "published (protocol)"],
                       [[r["metric"], r["n"], *(_interval(r, k) for k in st.STATISTICS), _published_cell(r)] for r in rows])
            if len(judgement.metrics(name)) > 1:
                diffs = difference_rows(judgement, name, n_boot=n_boot, seed=seed)
                tables["differences"] += diffs
                page.text("Differences in SRCC (a − b) with paired intervals: a difference is real when its interval excludes 0.")
                page.table(["a", "b", "SRCC a − b", "95 % interval", "real"],
                           [[d["a"], d["b"], f"{d['difference']:+.4f}", f"[{d['low']:+.4f}, {d['high']:+.4f}]", d["real"]] for d in diffs])
            types = type_rows(judgement, name, n_boot=n_boot, seed=seed)
            tables["types"] += types
            by_metric = {r["metric"]: r for r in rows}
            for scored in judgement.metrics(name):
                row = by_metric.get(str(scored.metric), {})
                a = None
                if "srcc" in row:
                    x, y, units, _ = _usable(ds, scored)
                    a = st.agreement(x, y, higher_is_better=False, subjective_higher_is_better=ds.higher_is_better, groups=units, n_boot=0)
                png = figure_png(fig_scatter(ds, scored, a))
                write_bytes(out / f"scatter-{_slug(name)}-{_slug(str(scored.metric))}.png", png, protect=protect)
                page.figure(png, f"{scored.metric} against {ds.scale} on {name}", alt=f"scatter {scored.metric} {name}")
        else:
            rows = bapps_rows(judgement, name, n_boot=n_boot, seed=seed)
            tables["bapps"] += rows
            key = "2afc" if isinstance(ds, Pairs2AFC) else "jnd-map"
            page.table(["metric", "subset", key, "95 % interval", "n"],
                       [[r["metric"], r["subset"], f"{r[key]:.4f}", f"[{r['low']:.4f}, {r['high']:.4f}]", r["n"]] for r in rows])
    if tables["types"]:
        page.section("SRCC per distortion type").table(["dataset", "metric", "type", "n", "SRCC", "95 % interval"],
                                                        [[r["dataset"], r["metric"], r["type"], r["n"], *((f"{r['srcc']:.4f}", f"[{r['srcc_low']:.3f}, {r['srcc_high']:.3f}]")
                                                          if "srcc" in r else (r["note"], ""))] for r in tables["types"]])
    if judgement.failed:
        page.section("Failed").table(["what", "why"], judgement.failed.items())
    items = per_item_rows(judgement)
    if items:
        write_csv(out / "per-image.csv", list(dict.fromkeys(k for r in items for k in r)), items, protect=protect)
    for key, rows in tables.items():
        if rows:
            write_csv(out / f"{key}.csv", list(dict.fromkeys(k for r in rows for k in r)), rows, protect=protect)
    page.section("Files").raw("<ul>" + "".join(f"<li class='mono'>{escape(p.relative_to(out))}</li>" for p in sorted(out.rglob("*")) if p.is_file()) + "</ul>")
    return page.write(out / "index.html", protect=protect), tables


def _interval(row: dict[str, Any], name: str) -> str:
    if name not in row:
        return row.get("note", "")
    value, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
    return f"{value:.4f} [{low:.3f}, {high:.3f}]" if math.isfinite(low) else f"{value:.4f}"


def _published_cell(row: dict[str, Any]) -> str:
    values = [f"{k.removeprefix('published_').upper()} {row[k]:.4f}" for k in ("published_srcc", "published_krcc", "published_plcc-raw") if k in row]
    return f"{', '.join(values)} — {row['published_source']}" if values else ""


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]
