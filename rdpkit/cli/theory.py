"""`rdpkit theory bernoulli` and `rdpkit theory solve`: rate-distortion-perception functions from theory.

Array files for `solve` (the source pmf, the distortion matrix) may be
  .npy   a NumPy array saved with numpy.save;
  .csv / .txt   numbers separated by commas or white space, one matrix row per line, `#` comments;
  .json  a list of numbers (pmf) or a list of rows (matrix).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import click
import numpy as np

from ..errors import InputError
from . import cli
from .common import Choice, quiet_option
from .output import console, print_json, table


@cli.group("theory")
def theory_group() -> None:
    """Closed-form and numerical rate-distortion-perception functions (Blau & Michaeli, ICML 2019)."""


def _floats(text: str, option: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option} takes comma-separated numbers such as 0,0.02,0.05, got {text!r}.") from None


def load_array(path: Path, what: str) -> np.ndarray:
    """Read a .npy, .csv/.txt or .json file of numbers; an InputError names the problem otherwise."""
    if not path.is_file():
        raise InputError(f"the {what} file {str(path)!r} does not exist; give the path of a .npy, .csv or .json file.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        if suffix in (".csv", ".txt"):
            text = path.read_text()
            return np.atleast_1d(np.loadtxt(text.splitlines(), delimiter="," if "," in text else None, dtype=np.float64))
        if suffix == ".json":
            return np.asarray(json.loads(path.read_text()), dtype=np.float64)
    except (ValueError, TypeError, OSError) as exc:
        raise InputError(f"cannot read the {what} from {str(path)!r} as numbers ({exc}); see `rdpkit theory solve --help` for the formats.") from None
    raise InputError(f"the {what} file {str(path)!r} has suffix {suffix!r}; use .npy, .csv, .txt or .json.")


@theory_group.command("bernoulli")
@click.option("--p", "p", required=True, type=float, help="Source probability P(X = 1).")
@click.option("--P", "P_text", help="Comma-separated perception levels (TV) [default: 0, p/4, p/2, 3p/4].")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the PNG/SVG figures and the CSV.")
@click.option("--points", default=400, show_default=True, help="Distortion values per curve in the CSV.")
@quiet_option("Write the files without listing them.")
def bernoulli_cmd(p: float, P_text: str | None, out: Path, points: int, quiet: bool) -> None:
    """R(D, P) of a Bernoulli(p) source in closed form: figures (ICML 2019 Fig. 3 and 4) and a CSV."""
    from ..theory.bernoulli import bernoulli_rd, bernoulli_rdp
    from ..theory.figures import (
        bernoulli_axes,
        bernoulli_rd_figure,
        bernoulli_rdp_figure,
        render,
        save,
    )

    if not 0.0 < p < 1.0:
        raise InputError(f"--p must lie strictly between 0 and 1 (with p = 0 or 1 the source is constant and R(D, P) = 0 everywhere), got {p}.")
    Ps = _floats(P_text, "--P") if P_text else [round(f * min(p, 1 - p), 6) for f in (0.0, 0.25, 0.5, 0.75)]
    if any(P < 0 or math.isnan(P) for P in Ps):
        raise InputError(f"--P levels must be ≥ 0, got {Ps}.")
    if points < 2:
        raise InputError(f"--points must be at least 2, got {points}.")
    Ds, _ = bernoulli_axes(p, points)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["p", "P", "D", "rate_bits"])
    for P, rates in [(P, bernoulli_rdp(Ds, P, p)) for P in Ps] + [(math.inf, bernoulli_rd(Ds, p))]:
        writer.writerows([p, P, f"{D:.8g}", f"{r:.10g}"] for D, r in zip(Ds, rates))
    # Everything is computed and drawn before the first file is written.
    files = {**render(bernoulli_rd_figure(p, Ps), "bernoulli-rd"), **render(bernoulli_rdp_figure(p), "bernoulli-rdp"),
             "bernoulli-rdp.csv": table.getvalue().encode()}
    written = save(files, out)
    if not quiet:
        console.print("wrote " + ", ".join(str(w) for w in written))


@theory_group.command("solve")
@click.option("--source", "source_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The source pmf (.npy, .csv, .txt or .json).")
@click.option("--distortion", "distortion_path", required=True, help="The distortion matrix file, or `hamming` for 0/1 distortion.")
@click.option("--perception", default="tv", show_default=True, type=Choice(["tv", "kl", "reverse-kl", "hellinger", "ot"]),
              help="d(p_X, p_X̂): total variation, KL(p_X‖p_X̂) or KL(p_X̂‖p_X) in nats, squared Hellinger, or transport cost under the distortion matrix.")
@click.option("--D", "D", required=True, type=float, help="Largest expected distortion E[Δ(X, X̂)].")
@click.option("--P", "P", default=math.inf, show_default=True, type=float, help="Largest perception index; inf for Shannon's R(D).")
@quiet_option("Print the rate in bits alone.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines on stdout (here one object): rate, channel, distortion, perception, status, duality gap.")
def solve_cmd(source_path: Path, distortion_path: str, perception: str, D: float, P: float, quiet: bool, as_json: bool) -> None:
    """R(D, P) in bits of a finite source, and the channel p(x̂|x) that attains it."""
    from ..theory.alphabets import hamming
    from ..theory.solver import solve_rdp

    source = load_array(source_path, "source pmf")
    cost = hamming(source.size) if distortion_path == "hamming" else load_array(Path(distortion_path), "distortion matrix")
    solution = solve_rdp(source, cost, D=D, P=P, perception=perception)
    if as_json:
        print_json(solution.as_dict())
        return
    if quiet:
        print(repr(float(solution.rate)))
        return
    console.print(f"R(D = {D:g}, P = {P:g}) = [bold]{solution.rate:.6f}[/] bits  ({perception}; reached E[Δ] = {solution.distortion:.6g}, "
                  f"{perception} = {solution.perception:.6g}; solver {solution.status}, duality gap {solution.duality_gap:.2e} bits, "
                  f"{solution.seconds * 1e3:.0f} ms)")
    n = solution.channel.shape[1]
    table("optimal channel p(x̂|x)", ["x", "p(x)", *[f"x̂={j}" for j in range(n)]],
          [[str(i), float(source[i]), *[float(v) for v in row]] for i, row in enumerate(solution.channel)])
