"""`rdpkit judge`: how well metrics agree with people on the field's subjective-quality datasets."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli
from .common import (
    device_option,
    executor_options,
    output_options,
    progress,
    warnings_as_lines,
)
from .output import console, print_json, table

DATA_HELP = ("A judgment set as LAYOUT:FOLDER (repeatable): tid2013, tid2008, kadid-10k, csiq, live, pipal, bapps-2afc, bapps-jnd "
             "(distortions); koniq-10k, spaq, live-challenge (no-reference critics), e.g. tid2013:~/data/TID2013.")


@cli.command("judge")
@click.option("--metric", "metrics", multiple=True, required=True, metavar="NAME[,KEY=VALUE...]",
              help="A registered distortion or no-reference critic (repeatable), e.g. ssim, ms-ssim, niqe,patch=32.")
@click.option("--data", "datasets", multiple=True, required=True, metavar="LAYOUT:FOLDER", help=DATA_HELP)
@click.option("--bootstrap", default=1000, show_default=True, help="Bootstrap replicates of every interval (over reference images).")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--out", default="rdpkit-judge", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for per-image.csv, agreement.csv, types.csv, differences.csv, bapps.csv, left_out.csv (images that do not read), scatter-*.png and index.html.")
@click.option("--store", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Result store [default: OUT/judge.sqlite]; a rerun resumes from it.")
@click.option("--force", is_flag=True, help="Score every image again.")
@executor_options
@device_option
@output_options
def judge_cmd(metrics: tuple[str, ...], datasets: tuple[str, ...], bootstrap: int, seed: int, out: Path, store: Path | None, force: bool,
              executor: str | None, workers: int | None, address: str | None, device: str, quiet: bool, as_json: bool) -> None:
    """Score every image of judged datasets with each metric, and report SRCC, KRCC, PLCC (VQEG logistic), 2AFC and JND mAP."""
    from ..judge.report import write
    from ..judge.run import judge
    from ..report import output_folder

    store = store or out / "judge.sqlite"
    output_folder(out, protect=[store])  # an output that would overwrite the store is refused before any scoring
    with warnings_as_lines():  # an image left out is one line, as it is found
        judgement = judge(metrics, datasets, store=store, device=device, executor=executor, workers=workers,
                          address=address, force=force, progress=progress(quiet))
    page, tables = write(judgement, out, n_boot=bootstrap, seed=seed)
    if as_json:
        for kind, rows in tables.items():
            for row in rows:
                print_json({"table": kind, **row})
        return
    rows = tables["agreement"]
    if rows:
        table("rdpkit judge: agreement with people (positive: agrees)", ["dataset", "metric", "n", "SRCC", "KRCC", "PLCC (logistic)", "published SRCC"],
              [[r["dataset"], r["metric"], r["n"], *(f"{r[k]:.4f}" if k in r else r.get("note", "") for k in ("srcc", "krcc", "plcc_logistic")),
                f"{r['published_srcc']:.4f}" if "published_srcc" in r else ""] for r in rows])
    bapps = tables["bapps"]
    if bapps:
        table("rdpkit judge: BAPPS", ["dataset", "metric", "subset", "score"],
              [[r["dataset"], r["metric"], r["subset"], f"{r.get('2afc', r.get('jnd-map')):.4f}"] for r in bapps])
    for what, why in judgement.failed.items():
        console.print(f"[red]{what} failed:[/] {why}", highlight=False)
    for name, left_out in judgement.left_out.items():
        console.print(left_out.sentence(name), highlight=False, markup=False)
    console.print(f"wrote {page} (and the CSV files and figures beside it)")
