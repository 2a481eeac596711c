"""The audit's report: one self-contained HTML file (images embedded as base64 PNG, every string escaped)."""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Iterable
from pathlib import Path

from .audit import COLUMNS, AuditResult
from .figures import VERDICT_COLOURS, Layout, curves_png, gallery_png
from .run import RecoveryResult, png_bytes
from .verdict import BLIND_SPOT, LABELS, NOT_CONVERGED, RECOVERED

#: The error maps under each recovered image show |y* − x| multiplied by this.
ERROR_GAIN = 4

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#1f2328}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
table.gallery td{text-align:center;border:none;padding:4px} table.gallery th{border:none;font-size:13px}
figure{margin:0} figcaption{font-size:12px;line-height:1.3}
img.tile{width:160px;height:auto;image-rendering:pixelated;display:block;margin:auto}
img.err{width:80px;height:auto;image-rendering:pixelated;display:block;margin:2px auto 0}
.mono{font-family:ui-monospace,monospace;font-size:12px} .note{background:#f6f8fa;padding:.6em 1em;border-radius:6px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _img(data: bytes, cls: str, alt: str) -> str:
    return f'<img class="{cls}" alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def _num(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else _e(v)


def _table(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_num(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdict_span(label: str) -> str:
    return f'<b style="color:{VERDICT_COLOURS.get(label, "#1f2328")}">{_e(label)}</b>'


def mean_abs_error(r: RecoveryResult) -> float:
    """Mean |y* − x| in 8-bit grey levels."""
    return float((r.final - r.reference).abs().mean()) * 255


def _gallery(layout: Layout) -> str:
    head = "<tr><th>initialisation</th>" + "".join(f"<th>{_e(d)}</th>" for d in layout.distortions) + "<th>reference</th></tr>"
    rows = []
    for row in layout.rows:
        first = layout.any_in_row(row)
        cells = [f"<td><figure>{_img(png_bytes(first.initial), 'tile', row[1])}<figcaption>{_e(row[1])}<br>PSNR {first.trajectory.psnr[0]:.1f} dB</figcaption></figure></td>"]
        for d, r in zip(layout.distortions, layout.row_results(row)):
            if r is None:
                cells.append("<td>no result</td>")
                continue
            err = (r.final - r.reference).abs().mul(ERROR_GAIN).clamp(0, 1)
            cells.append(
                f"<td><figure>{_img(png_bytes(r.final), 'tile', f'{d} from {row[1]}')}"
                f"<figcaption>{_verdict_span(r.verdict.label)}<br>PSNR {r.psnr:.1f} dB · SSIM {r.ssim:.3f}</figcaption>"
                f"{_img(png_bytes(err), 'err', f'|y* − x| × {ERROR_GAIN}')}</figure></td>"
            )
        cells.append(f"<td><figure>{_img(png_bytes(first.reference), 'tile', row[0])}<figcaption>{_e(row[0])}</figcaption></figure></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="gallery">{head}{"".join(rows)}</table>'


def agreement_note(results: list[RecoveryResult]) -> str:
    """A short text, with numbers, on whether the verdicts match what the pictures show (plain text, unescaped)."""
    groups = {label: [mean_abs_error(r) for r in results if r.verdict.label == label] for label in LABELS}
    parts = []
    for label in LABELS:
        errs = groups[label]
        if errs:
            parts.append(f"{len(errs)} run(s) judged {label}: mean |y* − x| from {min(errs):.1f} to {max(errs):.1f} grey levels (of 255).")
    if groups[RECOVERED] and groups[BLIND_SPOT]:
        if max(groups[RECOVERED]) < min(groups[BLIND_SPOT]):
            parts.append("The groups do not overlap: every recovered image is closer to its reference than any blind-spot image, "
                         "as the near-black error maps of the recovered images and the structured error maps of the blind spots show.")
        else:
            parts.append("The groups overlap in mean error; look at the error maps of the overlapping runs before trusting their verdicts.")
    dead = [r for r in results if r.verdict.label == NOT_CONVERGED and r.trajectory.dead_channels[-1]]
    if dead:
        parts.append(f"{len(dead)} not-converged run(s) ended with colour channels where D's gradient is exactly zero: "
                     "those channels cannot move, and their error maps show them as a single-colour pattern.")
    parts.append(f"Under each result, its error map |y* − x| × {ERROR_GAIN}: black where y* equals the reference. "
                 "A recovered verdict should come with a near-black map, a blind spot with a visible one although D scored y* as near-perfect.")
    return " ".join(parts)


def _profiles(result: AuditResult) -> str:
    s = result.settings
    out = [(f"<p class='mono'>{_e(s.profile.describe())}; trajectory recorded every {s.stride} steps; device {_e(s.device)}; "
            f"images {s.size}×{s.size}; seed {s.seed}.</p>")]
    if not result.other_profile:
        out.append("<p>To compare this profile with another on these cases, run the same audit with <code>--profile ding</code> "
                   "(or <code>fast</code>) into the same store; this report then shows both verdicts side by side.</p>")
    for other, verdicts in result.other_profile.items():
        rows, agree = [], 0
        for r in result.results:
            theirs = verdicts.get((r.distortion, r.image, r.init))
            if theirs is not None:
                agree += theirs == r.verdict.label
                rows.append([r.distortion, r.image, r.init, r.verdict.label, theirs])
        out.append(f"<p>Verdicts of <b>{_e(s.profile.name)}</b> and <b>{_e(other)}</b> on the same cases: {agree} of {len(rows)} agree.</p>")
        out.append(_table(["distortion", "image", "init", s.profile.name, other], rows))
    return "".join(out)


def render(result: AuditResult) -> str:
    """The report as an HTML string."""
    layout = Layout.of(result.results)
    t = result.settings.thresholds
    counts = {d: {label: 0 for label in LABELS} for d in layout.distortions}
    for r in result.results:
        counts[r.distortion][r.verdict.label] += 1
    summary = _table(["distortion", *LABELS], [[d, *c.values()] for d, c in counts.items()])
    software = result.results[0].software if result.results else {}
    body = [
        "<h1>Reference-recovery audit</h1>",
        (f"<p>{len(layout.distortions)} distortion(s) × {len(layout.rows)} image/initialisation pair(s); {result.ran} run(s) now, "
         f"{result.reused} reused from <span class='mono'>{_e(result.store)}</span>. Written {_e(dt.datetime.now().isoformat(timespec='seconds'))}.</p>"),
        ("<p>Each run solves y* = argmin<sub>y</sub> D(x, y) from the initialisation by gradient descent, y kept in [0, 1] "
         "(Ding et al., IJCV 2021, section 3.1). A metric that returns the reference can be trusted as an optimisation target; "
         "one that scores a y* far from x as near-perfect has a blind spot.</p>"),
        "<h2>Verdicts</h2>", summary,
        (f"<p>recovered: PSNR ≥ {t.psnr_db:g} dB and SSIM ≥ {t.ssim:g}. blind spot: not recovered, yet D(x, y*) ≤ the near-identical level, "
         f"the smallest D between x and a barely perturbed copy of it ({_e(', '.join(t.near_identical))}). not converged: neither.</p>"),
        "<h2>Gallery</h2><p>Rows: image × initialisation. Columns: the initialisation, each distortion's y*, the reference.</p>",
        _gallery(layout) if result.results else "<p>No results.</p>",
        "<h2>Does the verdict agree with the pictures?</h2>", f"<p class='note'>{_e(agreement_note(result.results))}</p>",
    ]
    if result.results:
        body += ["<h2>Convergence</h2>", _img(curves_png(result.results), "curves", "convergence curves")]
    body += [
        "<h2>Results</h2>", _table(COLUMNS, [r.values() for r in result.rows()]),
        "<h2>Optimisation profile</h2>", _profiles(result),
    ]
    if result.problems:
        body += ["<h2>Distortions without results</h2>", _table(["distortion", "why"], result.problems.items())]
    body += ["<h2>Software</h2>", _table(["package", "version"], software.items())]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>rdpkit recovery audit</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def write_report(result: AuditResult, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result), encoding="utf-8")
    return path


def write_gallery(result: AuditResult, path: str | Path) -> Path:
    """The gallery alone as a PNG figure (for papers and READMEs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gallery_png(result.results))
    return path
