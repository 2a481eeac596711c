"""`rdpkit evaluate` (codecs × settings on a dataset, the codec papers' protocol) and `rdpkit bd` (BD tables of result files)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..errors import InputError
from . import cli
from .common import (
    Choice,
    device_option,
    executor_options,
    output_options,
    progress,
    trust_code_option,
    warnings_as_lines,
)
from .output import console, print_json, table

DATASET_HELP = "kodak:PATH, clic2020:PATH, div2k:PATH, builtin (the built-in photographs), builtin:held-out, or a folder of images."


@cli.command("evaluate")
@click.option("--codec", "codecs", multiple=True, metavar="NAME[,KEY=VALUE...]",
              help="A codec and its settings, repeatable; an option given as a list is one setting per value: jpeg,quality=[10,30,50,70].")
@click.option("--data", default="builtin:held-out", show_default=True, help=DATASET_HELP)
@click.option("--distortion", "distortions", multiple=True, metavar="NAME[,KEY=VALUE...]",
              help="Distortions to measure besides PSNR (repeatable) [default: ms-ssim and every deep distortion whose weights are here].")
@click.option("--critic", "critics", multiple=True, metavar="NAME[,KEY=VALUE...]",
              help="No-reference critics (repeatable): each setting's mean score of its decoded images, e.g. niqe,patch=32.")
@click.option("--divergence", "divergences", multiple=True, metavar="NAME[,KEY=VALUE...]",
              help="Divergences between the originals' and the decoded images' patches (repeatable), e.g. frechet,extractor=nss.")
@click.option("--divergence-patch", default=64, show_default=True, help="Side of the patches the divergences compare.")
@click.option("--bootstrap", default=0, show_default=True, help="Bootstrap resamples for the divergences' intervals (0: none).")
@click.option("--features", default="auto", show_default=True,
              help="Feature extractor for FID and KID on 256×256 patches (rdpkit list features): auto = Inception-v3 when its weights are here, else the best offline one; none = no FID/KID.")
@click.option("--anchor", "anchors", multiple=True, metavar="published:NAME | FILE",
              help="A result file in CompressAI's format to draw and compare with (repeatable), e.g. published:vtm (rdpkit bd --list shows the names).")
@click.option("--bd-anchor", help="The curve BD-rates are measured against [default: the first --anchor, else the first codec].")
@click.option("--method", type=Choice(["pchip", "cubic", "akima"]), default="pchip", show_default=True, help="Interpolation of the BD computations.")
@click.option("--patch-size", default=256, show_default=True, help="Side of the patches FID and KID are computed on.")
@click.option("--seed", default=0, show_default=True, help="Decoding seed of stochastic codecs.")
@click.option("--out", default="rdpkit-evaluate", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for per-image.csv, summary.csv, bd.csv, results/*.json, rd-*.png and index.html.")
@click.option("--store", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Result store [default: OUT/evaluate.sqlite]; a rerun resumes from it.")
@click.option("--force", is_flag=True, help="Run every setting again.")
@executor_options
@device_option
@trust_code_option
@output_options
def evaluate_cmd(codecs: tuple[str, ...], data: str, distortions: tuple[str, ...], critics: tuple[str, ...], divergences: tuple[str, ...],
                 divergence_patch: int, bootstrap: int, features: str, anchors: tuple[str, ...], bd_anchor: str | None,
                 method: str, patch_size: int, seed: int, out: Path, store: Path | None, force: bool, executor: str | None, workers: int | None,
                 address: str | None, device: str, quiet: bool, as_json: bool) -> None:
    """Evaluate codecs as codec papers do: bpp from real bytes, PSNR, MS-SSIM, deep metrics, patch FID/KID, BD tables."""
    from ..evaluate import evaluate, write
    from ..evaluate.report import resolution_sentence, summary_frame
    from ..report import output_folder

    store = store or out / "evaluate.sqlite"
    output_folder(out, protect=[store])  # an output that would overwrite the store is refused before any coding
    with warnings_as_lines():
        evaluation = evaluate(codecs, data, distortions=list(distortions) or None, critics=critics, divergences=divergences,
                              divergence_patch=divergence_patch, bootstrap=bootstrap, features=None if features == "none" else features,
                              anchors=anchors, store=store, patch_size=patch_size, seed=seed, device=device,
                              executor=executor, workers=workers, address=address, force=force, progress=progress(quiet))
    page = write(evaluation, out, bd_anchor=bd_anchor, method=method)
    summary = summary_frame(evaluation)
    if as_json:
        for row in summary.to_dict(orient="records"):
            print_json(row)
        return
    shown = [c for c in ("codec", "setting", "bpp", "payload_bpp", *evaluation.measured(), "encoding_time", "decoding_time") if c in summary]
    table(f"rdpkit evaluate: {evaluation.dataset.name}", shown, summary[shown].values.tolist())
    for setting, why in evaluation.failed.items():
        console.print(f"[red]{setting} failed:[/] {why}", highlight=False)
    for name, floor in evaluation.resolution().items():
        console.print(resolution_sentence(name, floor), highlight=False, markup=False)
    console.print(f"wrote {page} (and the CSV, JSON and figures beside it)")


@cli.command("bd")
@click.option("--anchor", help="The curve everything is compared with: published:NAME or a result file.")
@click.option("--curve", "curves", multiple=True, metavar="published:NAME | FILE", help="A curve to compare with the anchor (repeatable); published:* for every published one.")
@click.option("--metric", "metrics", multiple=True, help="Axes to report (repeatable; psnr, ms-ssim and ms-ssim-db name CompressAI's columns) [default: psnr-rgb and ms-ssim-db-rgb].")
@click.option("--method", type=Choice(["pchip", "cubic", "akima"]), default="pchip", show_default=True)
@click.option("--list", "list_names", is_flag=True, help="List the published result files bundled with rdpkit and stop.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the long table (every codec × metric, with its notes) as CSV.")
@output_options
def bd_cmd(anchor: str | None, curves: tuple[str, ...], metrics: tuple[str, ...], method: str, list_names: bool, csv_path: Path | None,
           quiet: bool, as_json: bool) -> None:
    """BD-rates of result files (CompressAI's format) against an anchor, e.g. every published Kodak codec against VTM.

    Every curve gets a row; where a metric gives no number (no shared range, a non-monotone curve,
    another dataset...), the row says why, on the console, in --json and in the CSV.
    """
    from ..anchors import ALIASES, published_names
    from ..anchors import anchor as read
    from ..errors import suggestion
    from ..evaluate.report import bd_frame, bd_wide
    from ..report import write_frame

    if list_names:
        for name in published_names():
            print_json({"name": f"published:{name}"}) if as_json else console.print(f"published:{name}")
        return
    if not anchor:
        raise InputError("give the anchor curve with --anchor, e.g. --anchor published:vtm.")
    names = [f"published:{n}" for n in published_names()] if curves == ("published:*",) or not curves else list(curves)
    files = [read(anchor), *(read(c) for c in names if c != anchor)]
    wanted = list(dict.fromkeys(ALIASES.get(m, m) for m in metrics)) or ["psnr-rgb", "ms-ssim-db-rgb"]
    held = list(dict.fromkeys(m for f in files for m in f.axes))
    for m in wanted:
        if m not in held:
            raise InputError(f"no curve holds {m!r}; {suggestion(m, held) or 'they hold ' + ', '.join(held)}.")
    bd = bd_frame(files, files[0].name, method=method, metrics=wanted)
    if csv_path:
        write_frame(csv_path, bd)
    wide = bd_wide(bd, wanted)
    if as_json:
        for row in wide.to_dict(orient="records"):
            print_json({**row, **{m: None if math.isnan(row[m]) else row[m] for m in wanted}})
        return
    rows = [[r["codec"], *("n/a" if math.isnan(r[m]) else f"{r[m]:+.1f}" for m in wanted), r["rate"]] for r in wide.to_dict(orient="records")]
    table(f"BD-rate (%) against {files[0].name} ({method})", ["codec", *wanted, "rate"], rows)
    for r in wide.to_dict(orient="records"):
        for note in r["notes"]:
            console.print(f"{r['codec']}, {note}", highlight=False, markup=False)
