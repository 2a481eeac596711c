"""The report kit: one self-contained HTML page builder, tables, and figures and images as PNG bytes.

Every harness report (the recovery audit, the sweep, the P-D plane) is a thin user of this
module. Pages embed their images as base64 PNG, escape every string they are given, and keep
to the width of the browser window: wide tables scroll inside their own box, images shrink.
Figures are state-free matplotlib `Figure` objects; nothing here touches pyplot or the
global backend.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import math
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .files import replacing

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from matplotlib.figure import Figure

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1600px;padding:0 1em;color:#1f2328;line-height:1.4}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #d0d7de}
.scroll{max-width:100%;overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{overflow-wrap:anywhere}
@media (max-width:1279px){th{overflow-wrap:break-word}}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.long{min-width:18em}
img{max-width:100%;height:auto}
figure{margin:.6em 0} figcaption{font-size:12px;color:#57606a}
.mono{font-family:ui-monospace,monospace;font-size:12px;overflow-wrap:anywhere}
.note{background:#f6f8fa;padding:.6em 1em;border-radius:6px}
.muted{color:#57606a;font-size:13px}
"""


def escape(value: object) -> str:
    """Any value as HTML text (quotes included)."""
    return html.escape(str(value), quote=True)


def number(value: object) -> str:
    """A table cell as text: floats to 4 significant digits, everything else as it is."""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return "" if value is None else str(value)


def figure_bytes(fig: Figure, fmt: str = "png", *, dpi: int | None = None) -> bytes:
    """A matplotlib Figure as the bytes of a PNG, SVG or PDF file (trimmed to its content)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi or fig.dpi, bbox_inches="tight")
    return buf.getvalue()


def figure_png(fig: Figure, *, dpi: int | None = None) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    return figure_bytes(fig, "png", dpi=dpi)


def image_png(x: torch.Tensor) -> bytes:
    """The first image of a batch (or a C×H×W tensor) as PNG bytes, 8 bits per channel."""
    from PIL import Image

    from .data import to_numpy

    buf = io.BytesIO()
    Image.fromarray(to_numpy(x)).save(buf, format="PNG")
    return buf.getvalue()


def image_grid_png(x: torch.Tensor, columns: int = 8) -> bytes:
    """A batch as one PNG image, tiled row by row with a 1-pixel white gap."""
    import torch

    n, c, h, w = x.shape
    rows, cols = -(-n // columns), min(columns, n)
    canvas = torch.ones(c, rows * (h + 1) - 1, cols * (w + 1) - 1)
    for i in range(n):
        r, q = divmod(i, columns)
        canvas[:, r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = x[i].detach().float().cpu()
    return image_png(canvas)


def png_tensor(data: bytes) -> torch.Tensor:
    """PNG bytes back to a 1×C×H×W float tensor."""
    from PIL import Image

    from .data import to_tensor

    with Image.open(io.BytesIO(data)) as im:
        return to_tensor(im)


def img(png: bytes, alt: str, cls: str = "") -> str:
    """An <img> element with the PNG inlined."""
    klass = f' class="{escape(cls)}"' if cls else ""
    return f'<img{klass} alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _cell(value: object) -> str:
    """A table cell: numbers right-aligned, long text given room to read as a paragraph."""
    text = escape(number(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<td class="num">{text}</td>'
    return f'<td class="long">{text}</td>' if len(text) > 80 else f"<td>{text}</td>"


def _header(value: object) -> str:
    """A column heading that may wrap at spaces and after `_`, `,`, `=`, `/` and `-`.

    Headings are names like `near_identical_level` or `frechet,extractor="nss,patch=32"`. Below
    1280 px, where a wide table scrolls in its box anyway, STYLE breaks them only there, never
    inside a word (breaking anywhere squeezed the columns of a scrolling table to one letter a
    line); from 1280 px, where every table must fit its box, a word still breaks as a last resort.
    """
    return re.sub(r"([_,=/-])(?=\w)", r"\1<wbr>", escape(value))


def table(columns: Sequence[object], rows: Iterable[Iterable[object]]) -> str:
    """An HTML table in a box that scrolls sideways when it is wider than the page."""
    head = "".join(f"<th>{_header(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def split_constant(columns: Sequence[object], rows: Iterable[Iterable[object]], keep: Iterable[object] = ()) -> tuple[list[object], list[list[object]], dict[object, object]]:
    """The columns whose value differs between rows (and those in `keep`), the rows cut to them, and the value of each
    other column, which is the same in every row (with fewer than two rows, nothing is constant)."""
    rows = [list(r) for r in rows]
    keep = set(keep)
    same = {c: rows[0][i] for i, c in enumerate(columns) if len(rows) > 1 and c not in keep and all(r[i] == rows[0][i] for r in rows)}
    kept = [i for i, c in enumerate(columns) if c not in same]
    return [columns[i] for i in kept], [[r[i] for i in kept] for r in rows], same


def frame(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A DataFrame (optionally some of its columns) as a `table`."""
    df = df[list(columns)] if columns else df
    return table(list(df.columns), df.itertuples(index=False))


class Page:
    """A self-contained HTML page, built section by section.

    Text given to `text`, `note`, `table`, `figure` and headings is escaped; `raw` takes HTML
    that the caller built from this module's helpers.
    """

    def __init__(self, title: str, *, intro: str = "", style: str = "") -> None:
        self.title = title
        self.style = style
        self.parts: list[str] = [f"<h1>{escape(title)}</h1>"]
        written = dt.datetime.now().isoformat(timespec="seconds")
        self.parts.append(f'<p class="muted">{escape(intro + " " if intro else "")}Written {escape(written)}.</p>')

    def section(self, heading: str) -> Page:
        self.parts.append(f"<h2>{escape(heading)}</h2>")
        return self

    def text(self, text: str, cls: str = "") -> Page:
        klass = f' class="{escape(cls)}"' if cls else ""
        self.parts.append(f"<p{klass}>{escape(text)}</p>")
        return self

    def note(self, text: str) -> Page:
        return self.text(text, "note")

    def table(self, columns: Sequence[object], rows: Iterable[Iterable[object]]) -> Page:
        self.parts.append(table(columns, rows))
        return self

    def varying_table(self, columns: Sequence[object], rows: Iterable[Iterable[object]], keep: Iterable[object] = ()) -> Page:
        """A `table` of the columns that vary (and those in `keep`), after one line with the value of every column that is
        the same in all rows: a wide table keeps only what tells its rows apart."""
        columns, rows, same = split_constant(columns, rows, keep)
        if same:
            self.note("The same in every row: " + "; ".join(f"{c} {number(v)}" for c, v in same.items()) + ".")
        return self.table(columns, rows)

    def frame(self, df: pd.DataFrame, columns: Sequence[str] | None = None) -> Page:
        self.parts.append(frame(df, columns))
        return self

    def figure(self, png: bytes, caption: str, alt: str | None = None) -> Page:
        self.parts.append(f"<figure>{img(png, alt or caption)}<figcaption>{escape(caption)}</figcaption></figure>")
        return self

    def raw(self, markup: str) -> Page:
        self.parts.append(markup)
        return self

    def render(self) -> str:
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{escape(self.title)}</title>"
                f"<style>{STYLE}{self.style}</style></head><body>{''.join(self.parts)}</body></html>")

    def write(self, path: str | Path, *, protect: Iterable[str | Path] = ()) -> Path:
        """The page written to `path` (through `output_path`, so never over the store)."""
        return write_text(path, self.render(), protect=protect)


#: Suffixes of the files reports write; a result store inside an output folder must not carry one.
OUTPUT_SUFFIXES = frozenset({".csv", ".html", ".json", ".jsonl", ".png", ".svg", ".pdf"})
#: The first bytes of every SQLite database, result stores included: no output of rdpkit is one.
SQLITE_HEADER = b"SQLite format 3\x00"
#: The characters a spreadsheet reads as the start of a formula when a cell begins with them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same resolved path, or (both existing) the same inode, hard links included."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _is_database(path: Path) -> bool:
    """Whether `path` is an existing regular file that starts like an SQLite database (a result store)."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def output_path(path: str | Path, *, protect: Iterable[str | Path] = ()) -> Path:
    """`path`, its folder created, after refusing a path that is one of `protect` (a result store, say) or any SQLite database."""
    path = Path(path)
    for other in protect:
        if _same_file(path, Path(other)):
            raise InputError(f"the output file {str(path)!r} is the result store; writing there would destroy every stored result, so choose another path.")
    if _is_database(path):
        raise InputError(f"the output file {str(path)!r} is an SQLite database (a result store); writing there would destroy it, so choose another output path or store.")
    if path.is_dir():
        raise InputError(f"the output path {str(path)!r} is a folder; give a file name.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {str(path.parent)!r} ({exc.strerror}); choose a writable path.") from None
    why = _refuses_files(path.parent)
    if why:
        raise InputError(f"cannot write in the folder {str(path.parent)!r} of the output {path.name!r} ({why}); make it writable or choose another output path.")
    return path


def _refuses_files(folder: Path) -> str | None:
    """Why `folder` takes no new file (read-only, immutable), or None when it does: found before the work, not after it."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rdpkit-", suffix=".tmp"):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def output_folder(folder: str | Path, *, protect: Iterable[str | Path] = ()) -> Path:
    """`folder`, created if needed, or one sentence saying why it cannot be.

    A command calls it before any work with its store in `protect`: a store inside the folder under a name reports
    write (a .csv, .html, .json, .png, ... file) is refused then, rather than found when the outputs are written.
    """
    folder = Path(folder)
    for other in map(Path, protect):
        if other.resolve().is_relative_to(folder.resolve()) and other.suffix.lower() in OUTPUT_SUFFIXES:
            raise InputError(f"the result store {str(other)!r} lies in the output folder {str(folder)!r} under a name reports write ({other.suffix} files); "
                             "give the store another name (such as results.sqlite) or the outputs another folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {str(folder)!r} ({exc.strerror}); choose a writable --out.") from None
    why = _refuses_files(folder)
    if why:
        raise InputError(f"cannot write in the output folder {str(folder)!r} ({why}); make it writable or choose another --out.")
    return folder


def write_bytes(path: str | Path, data: bytes, *, protect: Iterable[str | Path] = ()) -> Path:
    """`data` written to `path` (through `output_path`, so never over the store; whole or not at all, see `replacing`)."""
    path = output_path(path, protect=protect)
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return path


def write_text(path: str | Path, text: str, *, protect: Iterable[str | Path] = ()) -> Path:
    """`text` written to `path` as UTF-8 (through `output_path`, so never over the store; whole or not at all, see `replacing`)."""
    path = output_path(path, protect=protect)
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text beginning with = + - @ (or a tab or carriage return) gets a
    leading apostrophe unless it reads as a number (``-1.5``); numbers and everything else are returned as they are."""
    if not (isinstance(value, str) and value.startswith(FORMULA_START)):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[dict[str, Any]], *, protect: Iterable[str | Path] = ()) -> Path:
    """Rows (dicts keyed by `columns`) as a CSV file, every text cell passed through `csv_cell`."""
    path = output_path(path, protect=protect)
    with replacing(path) as temporary, temporary.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([csv_cell(c) for c in columns])
        writer.writerows([csv_cell(row.get(c, "")) for c in columns] for row in rows)
    return path


def write_frame(path: str | Path, df: pd.DataFrame, *, protect: Iterable[str | Path] = ()) -> Path:
    """A DataFrame as a CSV file without its index (``df.to_csv``), every text cell and column name passed through `csv_cell`."""
    path = output_path(path, protect=protect)
    from pandas.api.types import is_numeric_dtype

    safe = df.rename(columns=csv_cell)
    for column in safe.columns:
        if not is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(csv_cell)
    with replacing(path) as temporary:
        safe.to_csv(temporary, index=False)
    return path
