"""Shared output helpers for the CLI: JSON for scripts, rich tables for people."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped or captured output is not cut to 80 columns: tables keep every name whole.
console = Console() if sys.stdout.isatty() else Console(width=240)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """One JSON document on stdout (non-finite floats written as null / "inf")."""
    print(json.dumps(_clean(obj), indent=None, sort_keys=False, default=str))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table whose cells fold onto more lines when the window is narrow, never cut with an ellipsis."""
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[v if isinstance(v, str) else f"{v:.4g}" if isinstance(v, float) else str(v) for v in r])
    console.print(t)
