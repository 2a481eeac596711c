"""The embedded result store: an SQLite file with one row per trial, keyed by a hash of its configuration.

Shared by the recovery audit and the RDP sweep. A trial is *claimed* before it runs and
*finished* in one transaction with its artifacts, so a run killed at any moment (SIGKILL
included) leaves only finished trials and claims; a claim whose process is gone is stale
and the trial is run again from scratch. Several processes may write one store at once
(WAL journal, immediate transactions, a busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    owner TEXT,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (key, name)
);
"""


def config_key(config: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-serialisable configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def software_versions() -> dict[str, str]:
    """Versions that results depend on, recorded with every trial."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("rdpkit", "torch", "numpy", "scipy", "scikit-image"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Whether the process that claimed a trial still runs (claims from other hosts are trusted)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Trial:
    key: str
    kind: str
    config: dict[str, Any]
    status: str  # running | done | failed
    result: dict[str, Any] | None
    error: str | None
    started: float | None
    finished: float | None

    @property
    def seconds(self) -> float | None:
        return None if self.started is None or self.finished is None else self.finished - self.started

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "status": self.status, "config": self.config,
                "result": self.result, "error": self.error, "seconds": self.seconds}


class Store:
    """An SQLite file of trials. Open it once per process; it is cheap."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise InputError(f"cannot open or write the result store {str(self.path)!r} ({exc}); choose a writable path with --store.") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def claim(self, key: str, kind: str, config: Mapping[str, Any], *, retry_failed: bool = False) -> bool:
        """Mark a trial as running in this process. False if it is done, or running elsewhere."""
        with self._transaction() as db:
            row = db.execute("SELECT status, owner FROM trials WHERE key = ?", (key,)).fetchone()
            if row is not None:
                status, owner = row
                if status == "done" or (status == "failed" and not retry_failed):
                    return False
                if status == "running" and owner != _owner() and _alive(owner):
                    return False
            db.execute("DELETE FROM artifacts WHERE key = ?", (key,))  # leftovers of a half-finished run
            db.execute(
                "INSERT OR REPLACE INTO trials (key, kind, config, status, owner, started) VALUES (?, ?, ?, 'running', ?, ?)",
                (key, kind, json.dumps(config, sort_keys=True, default=str), _owner(), time.time()),
            )
            return True

    def finish(self, key: str, result: Mapping[str, Any], artifacts: Mapping[str, bytes] | None = None) -> None:
        """Store a trial's result and artifacts atomically and mark it done."""
        with self._transaction() as db:
            for name, data in (artifacts or {}).items():
                db.execute("INSERT OR REPLACE INTO artifacts (key, name, data) VALUES (?, ?, ?)", (key, name, sqlite3.Binary(data)))
            db.execute(
                "UPDATE trials SET status = 'done', result = ?, error = NULL, finished = ? WHERE key = ?",
                (json.dumps(result, default=str), time.time(), key),
            )

    def fail(self, key: str, error: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE trials SET status = 'failed', error = ?, finished = ? WHERE key = ?", (error, time.time(), key))

    def status(self, key: str) -> str | None:
        row = self._db.execute("SELECT status FROM trials WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def get(self, key: str) -> Trial | None:
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def trials(self, kind: str | None = None, status: str | None = None) -> list[Trial]:
        clauses, args = [], []
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if status:
            clauses.append("status = ?")
            args.append(status)
        return self._select(("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(args))

    def artifact(self, key: str, name: str) -> bytes | None:
        row = self._db.execute("SELECT data FROM artifacts WHERE key = ? AND name = ?", (key, name)).fetchone()
        return bytes(row[0]) if row else None

    def artifact_names(self, key: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM artifacts WHERE key = ? ORDER BY name", (key,))]

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Trial]:
        rows = self._db.execute(
            f"SELECT key, kind, config, status, result, error, started, finished FROM trials {where} ORDER BY started, key", args
        ).fetchall()
        return [
            Trial(k, kind, json.loads(c), s, json.loads(r) if r else None, e, st, fi)
            for k, kind, c, s, r, e, st, fi in rows
        ]


