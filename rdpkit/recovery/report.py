"""The audit's report (one self-contained HTML page, built with rdpkit.report) and a single run's files."""

from __future__ import annotations

import json
from pathlib import Path

from ..report import (
    Page,
    escape,
    image_png,
    img,
    output_folder,
    write_bytes,
    write_text,
)
from .audit import COLUMNS, AuditResult
from .figures import VERDICT_COLOURS, Layout, curves_png, gallery_png
from .literature import expectation, explain
from .result import IMAGE_FILES, RecoveryResult
from .verdict import BLIND_SPOT, LABELS, NOT_CONVERGED, RECOVERED

#: The error maps under each recovered image show |y* − x| multiplied by this.
ERROR_GAIN = 4

GALLERY_STYLE = """
table.gallery td{text-align:center;border:none;padding:4px} table.gallery th{border:none;font-size:13px}
img.tile{width:160px;max-width:none;height:auto;image-rendering:pixelated;display:block;margin:auto}
img.err{width:80px;max-width:none;height:auto;image-rendering:pixelated;display:block;margin:2px auto 0}
"""


def _verdict_span(label: str) -> str:
    return f'<b style="color:{VERDICT_COLOURS.get(label, "#1f2328")}">{escape(label)}</b>'


def mean_abs_error(r: RecoveryResult) -> float:
    """Mean |y* − x| in 8-bit grey levels."""
    return float((r.final - r.reference).abs().mean()) * 255


def _gallery(layout: Layout) -> str:
    head = "<tr><th>initialisation</th>" + "".join(f"<th>{escape(d)}</th>" for d in layout.distortions) + "<th>reference</th></tr>"
    rows = []
    for row in layout.rows:
        first = layout.any_in_row(row)
        cells = [f"<td><figure>{img(image_png(first.initial), row[1], 'tile')}<figcaption>{escape(row[1])}<br>PSNR {first.trajectory.psnr[0]:.1f} dB</figcaption></figure></td>"]
        for d, r in zip(layout.distortions, layout.row_results(row)):
            if r is None:
                cells.append("<td>no result</td>")
                continue
            err = (r.final - r.reference).abs().mul(ERROR_GAIN).clamp(0, 1)
            cells.append(
                f"<td><figure>{img(image_png(r.final), f'{d} from {row[1]}', 'tile')}"
                f"<figcaption>{_verdict_span(r.verdict.label)}<br>PSNR {r.psnr:.1f} dB · SSIM {r.ssim:.3f}</figcaption>"
                f"{img(image_png(err), f'|y* − x| × {ERROR_GAIN}', 'err')}</figure></td>"
            )
        cells.append(f"<td><figure>{img(image_png(first.reference), row[0], 'tile')}<figcaption>{escape(row[0])}</figcaption></figure></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table class="gallery">{head}{"".join(rows)}</table></div>'


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


def _expected(distortion: str) -> str:
    found = expectation(distortion)
    return f"{found.metric}: {found.verdict}" if found else "not reported"


def _literature(page: Page, results: list[RecoveryResult]) -> None:
    """Each run next to what Ding et al. found for its metric, and why it differs where it does."""
    rows = [[r.distortion, r.image, r.init, r.verdict.label, expectation(r.distortion).verdict, explain(r) or "agrees"]  # type: ignore[union-attr]
            for r in results if expectation(r.distortion) is not None]
    page.section("Compared with Ding et al. (IJCV 2021, section 3.1)")
    page.text("Ding et al. report that the models built on injective maps, MS-SSIM, NLPD and DISTS, bring the reference back "
              "from noise, while models with surjective maps converge to images they score as perfect that are not the reference. "
              "For the metrics they report on, each run below says whether rdpkit agrees and, where not, why, from the run's own numbers.")
    page.table(["distortion", "image", "init", "rdpkit", "Ding et al.", "agreement"], rows) if rows else page.text("None of the audited metrics is one they report on.")


def _profiles(page: Page, result: AuditResult) -> None:
    s = result.settings
    page.text(f"{s.profile.describe()}; trajectory recorded every {s.stride} steps; device {s.device}; images {s.size}×{s.size}; seed {s.seed}.", "mono")  # type: ignore[union-attr]
    if not result.other_profile:
        page.text("To compare this profile with another on these cases, run the same audit with --profile ding "
                  "(or fast) into the same store; this report then shows both verdicts side by side.")
    for other, verdicts in result.other_profile.items():
        rows, agree = [], 0
        for r in result.results:
            theirs = verdicts.get((r.distortion, r.image, r.init))
            if theirs is not None:
                agree += theirs == r.verdict.label
                rows.append([r.distortion, r.image, r.init, r.verdict.label, theirs])
        page.text(f"Verdicts of {s.profile.name} and {other} on the same cases: {agree} of {len(rows)} agree.")  # type: ignore[union-attr]
        page.table(["distortion", "image", "init", s.profile.name, other], rows)  # type: ignore[union-attr]


def render(result: AuditResult) -> str:
    """The report as an HTML string."""
    layout = Layout.of(result.results)
    t = result.settings.thresholds
    counts = {d: {label: 0 for label in LABELS} for d in layout.distortions}
    for r in result.results:
        counts[r.distortion][r.verdict.label] += 1
    software = result.results[0].software if result.results else {}
    page = Page("Reference-recovery audit", style=GALLERY_STYLE,
                intro=f"{len(layout.distortions)} distortion(s) × {len(layout.rows)} image/initialisation pair(s); "
                      f"{result.ran} run(s) now, {result.reused} reused from {result.store}.")
    page.text("Each run solves y* = argmin_y D(x, y) from the initialisation by gradient descent, y kept in [0, 1] "
              "(Ding et al., IJCV 2021, section 3.1). A metric that returns the reference can be trusted as an optimisation target; "
              "one that scores a y* far from x as near-perfect has a blind spot.")
    page.section("Verdicts").table(["distortion", *LABELS, "Ding et al. (IJCV 2021)"],
                                   [[d, *c.values(), _expected(d)] for d, c in counts.items()])
    page.text(f"recovered: PSNR ≥ {t.psnr_db:g} dB and SSIM ≥ {t.ssim:g}. blind spot: not recovered, yet D(x, y*) ≤ the near-identical level, "
              f"the smallest D between x and a barely perturbed copy of it ({', '.join(t.near_identical)}). not converged: neither.")
    page.section("Gallery").text("Rows: image × initialisation. Columns: the initialisation, each distortion's y*, the reference.")
    page.raw(_gallery(layout)) if result.results else page.text("No results.")
    page.section("Does the verdict agree with the pictures?").note(agreement_note(result.results))
    _literature(page, result.results)
    if result.results:
        page.section("Convergence").figure(curves_png(result.results), "D(x, y) relative to its start and PSNR of y, per distortion")
    page.section("Results").varying_table(COLUMNS, [r.values() for r in result.rows()], keep=("distortion", "image", "init", "verdict"))
    page.section("Optimisation profile")
    _profiles(page, result)
    if result.problems:
        page.section("Distortions without results").table(["distortion", "why"], result.problems.items())
    page.section("Software").table(["package", "version"], software.items())
    return page.render()


def write_report(result: AuditResult, path: str | Path) -> Path:
    return write_text(path, render(result), protect=[result.store])


def write_gallery(result: AuditResult, path: str | Path) -> Path:
    """The gallery alone as a PNG figure (for papers and READMEs)."""
    return write_bytes(path, gallery_png(result.results), protect=[result.store])


def save_result(result: RecoveryResult, out: str | Path) -> Path:
    """Write reference.png, initial.png, final.png, curves.png and result.json of one run into the folder `out`."""
    out = output_folder(out)
    record, artifacts = result.to_record()
    for name in IMAGE_FILES:
        write_bytes(out / name, artifacts[name])
    write_bytes(out / "curves.png", curves_png([result]))
    write_text(out / "result.json", json.dumps(record, indent=1, default=str))
    return out
