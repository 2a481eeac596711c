"""`rdpkit recover` (one reference-recovery run) and `rdpkit audit` (many, with an HTML report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..degrade import SPELLINGS
from ..errors import InputError
from . import cli
from .common import (
    COMPONENT_HELP,
    Choice,
    F,
    _apply,
    device_option,
    executor_options,
    images_option,
    output_options,
    progress,
    store_option,
)
from .output import console, print_json, table


def _settings_options(f: F) -> F:
    """The recovery test's settings (rdpkit.recovery.Settings), shared by `recover` and `audit`."""
    from ..recovery.profiles import DEFAULT_PROFILE, PROFILES
    from ..recovery.settings import DEFAULT_SIZE, MAX_PIXELS
    from ..recovery.verdict import Thresholds

    t = Thresholds()
    return _apply(f, [
        click.option("--size", default=DEFAULT_SIZE, show_default=True, help="Side of the square images are scaled and centre-cropped to (the smallest multiple of 32 that ms-ssim's five scales accept)."),
        click.option("--profile", type=Choice(sorted(PROFILES)), default=DEFAULT_PROFILE, show_default=True,
                     help="Optimisation profile: ding = Ding et al.'s 20,000 Adam steps; fast = 1,000 steps, same verdicts as ding on the built-ins."),
        click.option("--steps", type=int, default=None, help="Number of Adam steps [default: the profile's]."),
        click.option("--seed", default=0, show_default=True, help="Seed of the noise initialisation and the near-identical perturbations."),
        click.option("--stride", type=int, default=None, help="Record the trajectory every STRIDE steps [default: about 100 points]."),
        click.option("--psnr-threshold", default=t.psnr_db, show_default=True, help="Recovered needs PSNR(x, y*) ≥ this (dB)..."),
        click.option("--ssim-threshold", default=t.ssim, show_default=True, help="...and SSIM(x, y*) ≥ this."),
        click.option("--near-identical", multiple=True, help=f"Perturbation (a degradation, repeatable) defining D's near-identical level [default: {', '.join(t.near_identical)}]."),
        device_option,
        click.option("--max-pixels", default=MAX_PIXELS, show_default=True, help="Most values (N·C·H·W) optimised at once; bounds memory."),
        click.option("--force", is_flag=True, help="Run again (reset the stored trials) even when the store holds these configurations."),
        output_options,
    ])


def _settings(size: int, profile: str, steps: int | None, seed: int, stride: int | None, psnr_threshold: float,
              ssim_threshold: float, near_identical: tuple[str, ...], device: str, max_pixels: int) -> Any:
    from ..recovery.settings import Settings
    from ..recovery.verdict import Thresholds

    thresholds = Thresholds(psnr_threshold, ssim_threshold, *([tuple(near_identical)] if near_identical else []))
    return Settings(size=size, profile=profile, steps=steps, seed=seed, stride=stride, thresholds=thresholds, device=device, max_pixels=max_pixels)


def _summary_rows(results: list[Any]) -> list[list[Any]]:
    return [[r.distortion, r.image, r.init, r.verdict.label, r.psnr, r.ssim, r.distortion_value, r.near_identical_level, r.seconds] for r in results]


SUMMARY_COLUMNS = ["distortion", "image", "init", "verdict", "PSNR (dB)", "SSIM", "D(x, y*)", "near-identical D", "seconds"]


@cli.command("recover")
@click.option("--distortion", required=True, help=f"A registered differentiable distortion (rdpkit list): {COMPONENT_HELP}.")
@images_option("builtin:astronaut")
@click.option("--init", default="noise", show_default=True, help=f"A degradation of the reference ({SPELLINGS}) or a PNG/JPEG path.")
@click.option("--out", default="rdpkit-recover", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the images, curves.png and result.json (with several images, one folder inside it per image).")
@click.option("--store", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Result store (SQLite file) [default: OUT/recover.sqlite].")
@_settings_options
def recover_cmd(distortion: str, images: tuple[str, ...], init: str, out: Path, store: Path | None, force: bool, quiet: bool, as_json: bool, **options: Any) -> None:
    """Minimise D(x, y) over y from INIT and judge whether each reference x comes back."""
    from ..recovery.audit import audit
    from ..recovery.report import save_result
    from ..recovery.run import check_initialisation

    check_initialisation(init)
    # The audit of one distortion and one initialisation: the same images, trials and store, run here.
    result = audit([distortion], images or ("builtin:astronaut",), [init], _settings(**options), store=store or out / "recover.sqlite",
                   force=force, executor="inline", progress=progress(quiet))
    if result.problems:
        raise InputError(next(iter(result.problems.values())))
    if not result.results:
        raise InputError("this configuration is being run by another process right now; wait for it, or pass --force.")
    several = len(result.results) > 1
    folders = [save_result(r, out / f"{i + 1}-{Path(r.image.partition('builtin:')[2] or r.image).stem}" if several else out)
               for i, r in enumerate(result.results)]
    if as_json:
        for r in result.results:
            print_json(r.as_dict())
        return
    table("rdpkit recover", SUMMARY_COLUMNS, _summary_rows(result.results))
    for r, folder in zip(result.results, folders):
        console.print(f"{r.verdict.label}: {r.verdict.reason}.\nImages, curves.png and result.json{f' of {r.image}' if several else ''} in {folder}/",
                      highlight=False, markup=False)


@cli.command("audit")
@click.option("--distortion", "distortions", multiple=True, help=f"Only these distortions, repeatable ({COMPONENT_HELP}) [default: every registered differentiable one].")
@click.option("--distribution", "distributions", multiple=True, help="Only the distortions of this distribution (repeatable; rdpkit = the built-ins).")
@images_option("builtin:astronaut, builtin:coffee")
@click.option("--init", "inits", multiple=True, help=f"Initialisation, repeatable: a degradation ({SPELLINGS}) or a PNG/JPEG path [default: noise, jpeg:10].")
@store_option("rdpkit-audit/audit.sqlite", "; an interrupted audit resumes from it")
@click.option("--report", default="rdpkit-audit/report.html", show_default=True, type=click.Path(dir_okay=False, path_type=Path), help="Self-contained HTML report.")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Also write the results table as CSV.")
@click.option("--gallery", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Also write the gallery as a PNG figure.")
@executor_options
@_settings_options
def audit_cmd(distortions: tuple[str, ...], distributions: tuple[str, ...], images: tuple[str, ...], inits: tuple[str, ...], store: Path, report: Path,
              csv_path: Path | None, gallery: Path | None, executor: str | None, workers: int | None, address: str | None, force: bool,
              quiet: bool, as_json: bool, **options: Any) -> None:
    """Run the recovery test of many distortions × images × initialisations and write one HTML report."""
    from ..recovery.audit import DEFAULT_IMAGES, DEFAULT_INITS, audit
    from ..recovery.report import write_gallery, write_report
    from ..recovery.run import check_initialisation
    from ..report import output_path

    for init in inits:
        check_initialisation(init)
    for out in (report, csv_path, gallery):  # refused before any work: an output must never overwrite the store
        if out is not None:
            output_path(out, protect=[store])
    result = audit(distortions or None, images or DEFAULT_IMAGES, inits or DEFAULT_INITS, _settings(**options), distributions=distributions or None,
                   store=store, force=force, executor=executor, workers=workers, address=address, progress=progress(quiet))
    write_report(result, report)
    if csv_path:
        result.to_csv(csv_path)
    if gallery and result.results:
        write_gallery(result, gallery)
    if as_json:
        print_json({**result.as_dict(), "report": str(report), "csv": str(csv_path) if csv_path else None})
        return
    table("rdpkit audit", SUMMARY_COLUMNS, _summary_rows(result.results))
    for name, why in result.problems.items():
        console.print(f"[red]{escape(name)}: no results[/] ({escape(why)})", highlight=False)
    console.print(f"{result.ran} run(s) now, {result.reused} reused from {store}. Report: {report}")
