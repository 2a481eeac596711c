"""`rdpkit sweep`, `rdpkit results`, `rdpkit report` and `rdpkit plane`: sweeps, stores and the P-D plane."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import InputError
from . import cli
from .common import (
    COMPONENT_HELP,
    device_option,
    executor_options,
    output_options,
    progress,
    store_option,
    trust_code_option,
    warnings_as_lines,
)
from .output import console, print_json, table

if TYPE_CHECKING:
    from ..store import Store

F = TypeVar("F", bound=Callable[..., Any])
@cli.command("sweep")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", help="A registered sweep instead of CONFIG (rdpkit list preset), e.g. digits-smoke.")
@store_option("results.sqlite", "the trials are written to")
@executor_options
# Every run continues what the store holds and retries failed trials (rdpkit.trial.driver); these two flags of
# earlier versions are accepted and change nothing, so that scripts written for them keep working.
@click.option("--resume", is_flag=True, hidden=True)
@click.option("--retry-failed", is_flag=True, hidden=True)
@click.option("--force", is_flag=True, help="Run every trial again, resetting what the store holds of them.")
@trust_code_option
@output_options
def sweep_cmd(config: Path | None, preset: str | None, store: Path, executor: str | None, address: str | None, workers: int | None,
              resume: bool, retry_failed: bool, force: bool, quiet: bool, as_json: bool) -> None:
    """Run every trial of the sweep declared in CONFIG (TOML; every key is described in docs/sweep-toml.md) or a --preset."""
    from ..sweep.config import SweepConfig
    from ..sweep.presets import preset as get_preset
    from ..sweep.runner import run_sweep

    if (config is None) == (preset is None):
        raise InputError("give either a sweep file (rdpkit sweep CONFIG.toml) or --preset NAME, not both or neither.")
    cfg = get_preset(preset) if preset else SweepConfig.from_toml(config)  # type: ignore[arg-type]
    with warnings_as_lines():  # an image of the source left out is one line, as it is found
        summary = run_sweep(cfg, store, executor=executor, workers=workers, address=address, force=force, progress=progress(quiet))
    if as_json:
        print_json({"store": str(store), **summary.as_dict()})
    else:
        console.print(f"{cfg.name}: {summary.trials} trials; {summary.ran} ran, {summary.failed} failed, "
                      f"{summary.already_done} were already done, {summary.by_others} done by another process "
                      f"({summary.seconds:.1f} s). Results in {store}; `rdpkit report --store {store}` draws them.")
    if summary.failed:
        sys.exit(1)


def _components(record: dict[str, Any] | None) -> dict[str, str]:
    """component → "distribution version", from a stored result's provenance (what is not a table of them is left out:
    the rows of kinds this command does not read are shown as stored)."""
    found = (record or {}).get("components")
    return {k: f"{v.get('distribution', '?')} {v.get('version', '?')}" for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


@cli.command("results")
@store_option(None, "to read (opened read-only, leaving no file beside it)")
@output_options
def results_cmd(store: Path, quiet: bool, as_json: bool) -> None:
    """The trials in a result store, of every kind: sweeps, the P-D plane, recovery runs."""
    from ..store import Store

    with Store(store, readonly=True) as db:
        _print_results(db, store, as_json)


def _print_results(db: Store, store: Path, as_json: bool) -> None:
    from ..recovery.trial import RecoveryTrial
    from ..sweep.report import trial_rows

    sweep = trial_rows(db)  # each row read as its trial and result: one that does not read is one sentence
    recovery = RecoveryTrial.stored(db)
    if as_json:
        for stored, trial, result in sweep:
            r = result.to_record()[0] if result else None
            print_json({"key": stored.key, "kind": stored.kind, "status": stored.status, "config": stored.config,
                        **({k: r[k] for k in ("rate", "distortions", "perception", "divergences", "critics")} if r else {}),
                        "seconds": result.wall_seconds if result else stored.seconds, "device": result.device if result else None,
                        "components": _components(r), "error": stored.error})
        for t, _, _ in recovery:
            r = t.result or {}
            print_json({"key": t.key, "kind": t.kind, "status": t.status, "config": t.config,
                        **{k: r.get(k) for k in ("verdict", "verdict_reason", "psnr", "ssim", "distortion_value", "near_identical_level")},
                        "seconds": r.get("seconds", t.seconds), "components": _components(r), "error": t.error})
        for t in db.trials():
            if t.kind not in ("sweep", "recovery"):
                print_json({"key": t.key, "kind": t.kind, "status": t.status, "config": t.config, "seconds": t.seconds,
                            "components": _components(t.result), "error": t.error})
        return
    if sweep:
        rows = []
        for stored, trial, result in sweep:
            measured = ([result.rate.bits_per_image, result.distortions[result.primary_distortion].mean, result.perception.value, result.wall_seconds]
                        if result else ["", "", "", stored.error.splitlines()[0] if stored.error else ""])
            options = ", ".join(f"{k}={v}" for k, v in trial.codec.options.items())
            rows.append([stored.key, stored.status, trial.label, options, str(trial.seed), *measured])
        table(f"sweep trials in {store}", ["key", "status", "codec", "options", "seed", "bits/image", "distortion", "perception", "seconds / error"], rows)
    if recovery:
        rows = [[t.key, t.status, trial.qualified_name, trial.image_id, trial.init_id, *(  # type: ignore[attr-defined]
            [result.verdict.label, result.psnr, result.ssim] if result else ["", "", t.error.splitlines()[0] if t.error else ""])]  # type: ignore[attr-defined]
            for t, trial, result in recovery]
        table(f"recovery trials in {store}", ["key", "status", "distortion", "image", "init", "verdict", "PSNR (dB)", "SSIM / error"], rows)
    others = [t for t in db.trials() if t.kind not in ("sweep", "recovery")]
    if others:
        rows = [[t.key, t.kind, t.status, ", ".join(f"{k}={v}" for k, v in t.config.items() if isinstance(v, (str, int, float)))[:120],
                 (t.error or "").splitlines()[0] if t.error else ""] for t in others]
        table(f"other trials in {store}", ["key", "kind", "status", "configuration", "error"], rows)
    if not sweep and not recovery and not others:
        console.print(f"{store} holds no trial yet.")


@cli.command("report")
@store_option(None, "to read (opened read-only)")
@click.option("--out", default="report", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the figures, CSV files and HTML pages.")
@click.option("--anchor", "anchors", multiple=True, metavar="published:NAME | FILE", help="Result files to draw and compare evaluations with (repeatable), e.g. published:vtm.")
@output_options
def report_cmd(store: Path, out: Path, anchors: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Figures, CSV and self-contained HTML pages for what a store holds: index.html for sweeps, audit.html for recovery runs, evaluate/ for evaluations."""
    from ..evaluate import write as write_evaluation
    from ..evaluate.run import from_store as evaluation_from_store
    from ..recovery.audit import from_store
    from ..recovery.report import write_report as write_audit
    from ..report import output_folder
    from ..store import Store
    from ..sweep.report import trial_rows
    from ..sweep.report import write_report as write_sweep

    with Store(store, readonly=True) as db:  # closed leaving nothing beside the store, like every read-only open
        output_folder(out, protect=[store])  # refused before any work: no output may overwrite the store
        kinds = db.kinds()
        # Every kind read (each row checked) before any page is written: a row that does not read leaves no half-written report.
        sweep = trial_rows(db) if "sweep" in kinds else None
        audited = from_store(db) if "recovery" in kinds else None
        evaluation = evaluation_from_store(db, anchors) if "evaluate" in kinds else None
        written = []
        # What the pages already say (a BD-rate on curves that barely overlap, ...) is noted once, in a sentence, not as a Python warning with its source line.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if sweep is not None:
                written.append((write_sweep(db, out), "with its figures and CSV files"))
            if audited is not None:
                written.append((write_audit(audited, Path(out) / "audit.html"), "self-contained"))
            if evaluation is not None:
                written.append((write_evaluation(evaluation, Path(out) / "evaluate"), "with its figures, CSV and JSON files"))
    if not written:
        raise InputError(f"{str(store)!r} holds no finished trial to report; run `rdpkit sweep` or `rdpkit audit` with --store {store} first.")
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    if as_json:
        print_json({"store": str(store), "pages": [str(p) for p, _ in written], "notes": notes})
    else:
        for note in notes:
            console.print(f"note: {note}", style="yellow", highlight=False, markup=False)
        console.print("wrote " + "; ".join(f"{p} ({what})" for p, what in written))


@cli.command("plane")
@click.option("--reference", type=click.Path(file_okay=False, path_type=Path), help="Folder of reference images.")
@click.option("--outputs", "outputs", multiple=True, metavar="NAME=FOLDER", help="An algorithm's outputs, named like the reference files (repeatable).")
@click.option("--data", help="Instead of folders: the image source to run --codec settings on (digits, builtin, builtin:NAME,..., a folder).")
@click.option("--codec", "codecs", multiple=True, metavar="NAME[,KEY=VALUE...]", help="A codec setting, e.g. jpeg,quality=10 (repeatable).")
@click.option("--fit", "fit_options", metavar="KEY=VALUE,...", default="", help="fit() options of learnable codecs, e.g. steps=300,batch_size=64.")
@click.option("--size", type=int, help="Side images are scaled and cropped to [default: as they are; digits are 8×8].")
@click.option("--gray", is_flag=True, help="Load images as grey levels.")
@click.option("--fr", default="mse", show_default=True, help=f"Full-reference distortion: {COMPONENT_HELP}.")
@click.option("--perception", default="wasserstein-sliced", show_default=True,
              help="The perception index: a divergence between reference and outputs, or a no-reference critic (mean score), with options, e.g. wasserstein-critic,steps=200 or niqe.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", default="plane", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--store", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Result store of the codec trials [default: OUT/plane.sqlite].")
@executor_options
@device_option
@trust_code_option
@output_options
def plane_cmd(reference: Path | None, outputs: tuple[str, ...], data: str | None, codecs: tuple[str, ...], fit_options: str,
              size: int | None, gray: bool, fr: str, perception: str, seed: int, out: Path, store: Path | None,
              executor: str | None, workers: int | None, address: str | None, device: str, quiet: bool, as_json: bool) -> None:
    """Place algorithms on the perception-distortion plane and report the admissible set."""
    import pandas as pd

    from ..options import parse_options
    from ..report import output_folder
    from ..sweep.plane import (
        PlanePoint,
        load_matching,
        measure,
        plane_frame,
        plane_trials,
        write_plane,
    )
    from ..trial.driver import drive
    from ..trial.executors import check_executor
    from ..validation import check_device

    if (reference is None) == (data is None):
        raise InputError("give either --reference with --outputs NAME=FOLDER, or --data with --codec settings.")
    check_executor(executor, workers, address)
    device = check_device(device)  # a missing GPU is one sentence here, not a failed trial in the store
    store = store or Path(out) / "plane.sqlite"
    output_folder(out, protect=[store])  # refused before any work: no output may overwrite the store
    if reference is not None:
        pairs = [o.partition("=") for o in outputs]
        if not pairs or any(not n or not eq or not f for n, eq, f in pairs):
            raise InputError("give each algorithm as --outputs NAME=FOLDER (at least one).")
        ref, outs = load_matching(reference, {n: f for n, _, f in pairs}, size=size, gray=gray)
        points = measure(ref, outs, fr=fr, perception=perception, seed=seed, progress=progress(quiet))
    else:
        with warnings_as_lines():  # an image of --data left out is one line, as it is found
            trials = plane_trials(data, codecs, size=size, gray=gray, fit=parse_options(fit_options, what="--fit"), fr=fr,  # type: ignore[arg-type]
                                  perception=perception, seed=seed, device=device)
        driven = drive(trials, store, executor=executor, workers=workers, address=address,
                       progress=progress(quiet), desc="plane")
        if driven.failures:
            raise InputError(f"{len(driven.failures)} codec setting(s) failed: {next(iter(driven.failures.values()))}")
        points = [PlanePoint.of(t.label, driven.result(t)) for t in trials]  # type: ignore[arg-type]
    page = write_plane(points, out, fr=fr, perception=perception, protect=[store])
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
