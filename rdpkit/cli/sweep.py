"""`rdpkit sweep`, `rdpkit results`, `rdpkit report` and `rdpkit plane`: rate-distortion-perception sweeps."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError
from . import cli
from .output import console, print_json, table


@cli.command("sweep")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", help="A built-in sweep instead of CONFIG: digits-smoke (under 3 min) or digits (under 30 min).")
@click.option("--store", default="results.sqlite", show_default=True, type=click.Path(dir_okay=False, path_type=Path), help="SQLite file the trials are written to.")
@click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray"]), help="A local process pool, or Ray tasks.")
@click.option("--address", help="Address of an existing Ray cluster (with --executor ray); without it a local one is started for the run.")
@click.option("--workers", type=int, help="Trials at a time [default: CPU cores / threads per trial, or one per GPU].")
@click.option("--resume", is_flag=True, help="Continue a sweep this store already holds: skip finished trials, restart interrupted ones.")
@click.option("--retry-failed", is_flag=True, help="With --resume, run failed trials again.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def sweep_cmd(config: Path | None, preset: str | None, store: Path, executor: str, address: str | None, workers: int | None,
              resume: bool, retry_failed: bool, quiet: bool, as_json: bool) -> None:
    """Run every trial of the sweep declared in CONFIG (TOML) or a --preset."""
    from ..sweep.config import SweepConfig
    from ..sweep.presets import preset as get_preset
    from ..sweep.runner import run_sweep

    if (config is None) == (preset is None):
        raise InputError("give either a sweep file (rdpkit sweep CONFIG.toml) or --preset NAME, not both or neither.")
    if retry_failed and not resume:
        raise InputError("--retry-failed continues an earlier sweep; add --resume.")
    cfg = get_preset(preset) if preset else SweepConfig.from_toml(config)  # type: ignore[arg-type]
    summary = run_sweep(cfg, store, executor=executor, workers=workers, address=address, resume=resume,
                        retry_failed=retry_failed, progress=not quiet)
    if as_json:
        print_json({"store": str(store), **summary.as_dict()})
    else:
        console.print(f"{cfg.name}: {summary.trials} trials; {summary.ran} ran, {summary.failed} failed, "
                      f"{summary.already_done} were already done, {summary.by_others} done by another process "
                      f"({summary.seconds:.1f} s). Results in {store}; `rdpkit report {store}` draws them.")
    if summary.failed:
        sys.exit(1)


@cli.command("results")
@click.argument("store", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per trial: key, config, status, rate, distortion, perception, seconds, error.")
def results_cmd(store: Path, as_json: bool) -> None:
    """The trials in a sweep's result STORE."""
    from ..sweep.report import open_store
    from ..sweep.trial import KIND

    db = open_store(store)
    trials = db.trials(kind=KIND)
    if as_json:
        for t in trials:
            r = t.result or {}
            print_json({"key": t.key, "config": t.config, "status": t.status, "rate": r.get("rate"), "distortion": r.get("distortion"),
                        "perception": r.get("perception"), "divergences": r.get("divergences"),
                        "seconds": r.get("wall_seconds", t.seconds), "device": r.get("device"), "error": t.error})
        return
    rows = []
    for t in trials:
        r = t.result
        if r:
            measured = [r["rate"]["bits_per_image"], r["distortion"][r["primary_distortion"]]["mean"], r["perception"]["value"], r["wall_seconds"]]
        else:
            measured = ["", "", "", t.error.splitlines()[0] if t.error else ""]
        options = ", ".join(f"{k}={v}" for k, v in t.config["options"].items())
        rows.append([t.key[:10], t.status, t.config["label"], options, str(t.config["seed"]), *measured])
    table(f"rdpkit results {store}", ["key", "status", "codec", "options", "seed", "bits/image", "distortion", "perception", "seconds / error"], rows)


@cli.command("report")
@click.argument("store", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", default="report", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the figures, CSV files and index.html.")
def report_cmd(store: Path, out: Path) -> None:
    """Figures, CSV and one self-contained HTML page for the sweep in STORE."""
    from ..sweep.report import write_report

    page = write_report(store, out)
    console.print(f"wrote {page} (and sweep-*.png, results.csv, settings.csv beside it)")


@cli.command("plane")
@click.option("--reference", type=click.Path(file_okay=False, path_type=Path), help="Folder of reference images.")
@click.option("--outputs", "outputs", multiple=True, metavar="NAME=FOLDER", help="An algorithm's outputs, named like the reference files (repeatable).")
@click.option("--data", help="Instead of folders: images to run --codec settings on (digits, or builtin:NAME,NAME,...).")
@click.option("--codec", "codecs", multiple=True, metavar="NAME:KEY=VALUE,...", help="A codec setting, e.g. jpeg:quality=10 (repeatable).")
@click.option("--fit", "fit_options", metavar="KEY=VALUE,...", default="", help="fit() options of learnable codecs, e.g. steps=300.")
@click.option("--size", type=int, help="Side images are scaled and cropped to [default: native size; digits are 8×8].")
@click.option("--gray", is_flag=True, help="Load images as grey levels.")
@click.option("--fr", default="mse", show_default=True, help="Full-reference distortion.")
@click.option("--nr", help="No-reference critic giving the perception index (mean score of the outputs).")
@click.option("--divergence", help="Or: a divergence between reference and outputs as the perception index.")
@click.option("--perception-options", metavar="KEY=VALUE,...", default="", help="Options of the --nr critic or --divergence, e.g. steps=200.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", default="plane", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per algorithm.")
def plane_cmd(reference: Path | None, outputs: tuple[str, ...], data: str | None, codecs: tuple[str, ...], fit_options: str,
              size: int | None, gray: bool, fr: str, nr: str | None, divergence: str | None, perception_options: str, seed: int,
              out: Path, quiet: bool, as_json: bool) -> None:
    """Place algorithms on the perception-distortion plane and report the admissible set."""
    import pandas as pd

    from ..sweep.plane import (
        codec_outputs,
        load_matching,
        measure,
        parse_setting,
        plane_frame,
        write_plane,
    )

    if (reference is None) == (data is None):
        raise InputError("give either --reference with --outputs NAME=FOLDER, or --data with --codec settings.")
    rates = None
    if reference is not None:
        pairs = [o.partition("=") for o in outputs]
        if not pairs or any(not n or not eq or not f for n, eq, f in pairs):
            raise InputError("give each algorithm as --outputs NAME=FOLDER (at least one).")
        ref, outs = load_matching(reference, {n: f for n, _, f in pairs}, size=size, gray=gray)
    else:
        if not codecs:
            raise InputError("--data needs at least one --codec setting, e.g. --codec jpeg:quality=10.")
        ref, train = _plane_data(data, size, gray, seed)  # type: ignore[arg-type]
        _, fit = parse_setting(f"fit:{fit_options}")
        outs, rates = codec_outputs(ref, codecs, train=train, fit=fit, seed=seed, progress=not quiet)
    _, judge_options = parse_setting(f"perception:{perception_options}")
    points = measure(ref, outs, fr=fr, nr=nr, divergence=divergence, perception_options=judge_options, rates=rates, progress=not quiet)
    page = write_plane(points, out, fr=fr, perception=nr or divergence or "")
    df = plane_frame(points)
    if as_json:
        for row in df.to_dict(orient="records"):
            print_json(row)
        return
    records = df.to_dict(orient="records")
    with_rate = "admissible_rdp" in df
    rows = [[r["name"], r["distortion"], r["perception"], "" if pd.isna(r["bpp"]) else r["bpp"], "yes" if r["admissible"] else "",
             *(["yes" if r["admissible_rdp"] else ""] if with_rate else [])] for r in records]
    table("perception-distortion plane", ["algorithm", "distortion", "perception", "bpp", "admissible (D, P)", *(["admissible (R, D, P)"] if with_rate else [])], rows)
    console.print(f"wrote {page}")


def _plane_data(source: str, size: int | None, gray: bool, seed: int):  # type: ignore[no-untyped-def]
    """(test images, training images or None) for --data."""
    from ..data import digits, load_images, split

    if source == "digits":
        train, test = split(digits(), [0.75, 0.25], seed=seed)  # type: ignore[arg-type]
        return test, train
    if source.startswith("builtin:"):
        names = source.split(":", 1)[1].split(",")
        if not size:
            raise InputError("--data builtin:... needs --size (the side the images are brought to), e.g. --size 64.")
        return load_images([f"builtin:{n}" for n in names], size=size, gray=gray), None
    raise InputError(f"--data must be digits or builtin:NAME,NAME,..., got {source!r}; for your own images use --reference and --outputs.")
