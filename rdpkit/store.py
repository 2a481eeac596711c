"""The embedded result store: an SQLite file with one row per trial, keyed by a hash of its configuration.

Every harness stores its trials here (rdpkit.trial runs them). A trial is *claimed* before it
runs and *finished* in one transaction with its artifacts, so a run killed at any moment
(SIGKILL included) leaves only finished trials and claims; a claim whose process is gone is
stale and the trial is run again from scratch. Several processes may write one store at once
(WAL journal, immediate transactions, a busy timeout).

The store records its schema version. Stores of an older schema are upgraded when opened for
writing and read through the same upgrade when opened read-only (`readonly=True`, which never
changes the file); a file that is not an rdpkit store is refused without being touched.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import InputError
from .migrations import FROM_SCHEMA_1

#: 1: before the trial layer (no meta table); 2: trials written by rdpkit.trial.
SCHEMA_VERSION = 2
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
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_COLUMNS = {"key", "kind", "config", "status", "result", "error", "owner", "started", "finished"}



def config_key(config: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-serialisable configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Whether the process that claimed a trial still runs (claims from other hosts are trusted)."""
    if not owner or not isinstance(owner, str):
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
class StoredTrial:
    """One row of the store, as read back."""

    key: str
    kind: str
    config: dict[str, Any]
    status: str  # running | done | failed | interrupted (claimed by a process that is gone)
    result: dict[str, Any] | None
    error: str | None
    started: float | None
    finished: float | None

    @property
    def seconds(self) -> float | None:
        numbers = all(isinstance(t, (int, float)) for t in (self.started, self.finished))
        return self.finished - self.started if numbers else None  # type: ignore[operator]

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "status": self.status, "config": self.config,
                "result": self.result, "error": self.error, "seconds": self.seconds}


def _json_object(text: str) -> dict[str, Any]:
    """A stored configuration or result: a JSON object (TypeError for valid JSON of another shape, such as a list)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError(f"a row holds a JSON {type(value).__name__} where an object belongs")
    return value


def _disk_full(path: Path, exc: Exception) -> InputError | None:
    """One sentence when `exc` says the disk holding the store is full (SQLite's SQLITE_FULL, or ENOSPC/EDQUOT from the system); else None."""
    text = str(exc)
    full = (exc.errno in (errno.ENOSPC, errno.EDQUOT) if isinstance(exc, OSError)
            else getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "disk is full" in text)
    if not full:
        return None
    return InputError(f"the disk holding the result store {str(path)!r} is full ({text}); free some space and run again: "
                      "every trial finished so far is kept, and the others run then.")


def _refused(path: Path, exc: sqlite3.Error) -> InputError | None:
    """One sentence for a write the store's file or disk refuses (read-only, immutable, full); None for any other error."""
    name, text = getattr(exc, "sqlite_errorname", ""), str(exc)
    full = _disk_full(path, exc)
    if full is not None:
        return full
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_IOERR")) or "readonly database" in text:
        return InputError(f"the result store {str(path)!r} cannot be written ({text}); make the file and its folder writable, or give another --store.")
    return None


#: Byte of a WAL store's -shm file on which every SQLite connection that uses the file holds a lock (its "DMS" lock, in os_unix.c).
_SHM_IN_USE_BYTE = 128


def _remove_unused(wal: Path, shm: Path) -> None:
    """Remove a store's -wal and -shm files when no connection uses them (none holds SQLite's lock on the -shm file)
    and no transaction was written meanwhile (the -wal file is empty)."""
    try:
        import fcntl  # SQLite's lock on the -shm file is a POSIX record lock; elsewhere the files stay
    except ImportError:
        return
    try:
        with shm.open("r+b") as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_IN_USE_BYTE)  # OSError: another connection uses it
            if wal.stat().st_size == 0:
                wal.unlink()
                shm.unlink()
    except OSError:
        pass


F = TypeVar("F", bound=Callable[..., Any])


def _damaged(method: F) -> F:
    """Turn what a damaged file raises while being read (SQLite errors, bad JSON, odd values) into one sentence."""

    @functools.wraps(method)
    def read(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except InputError:
            raise
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as exc:
            raise InputError(f"the result store {str(self.path)!r} is damaged ({type(exc).__name__}: {str(exc)[:120]}); "
                             "restore it from a copy, or give another --store.") from None

    return read  # type: ignore[return-value]


class Store:
    """An SQLite file of trials. Open it once per process; it is cheap.

    `readonly=True` opens an existing store without changing it (commands that only read use
    it); a missing file, an empty one or another application's database is refused.
    """

    #: kind → upgrade of a schema-1 row (rdpkit.migrations).
    upgrades = FROM_SCHEMA_1

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._old_keys: dict[str, str] | None = None
        if self.path.is_dir():
            raise InputError(f"the result store {str(self.path)!r} is a folder; give the path of a .sqlite file.")
        if readonly:
            # SQLite makes a WAL store's -wal and -shm files for a reader too, and only a writer removes them: `close` removes those this reader made.
            self._beside = tuple(self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm"))
            self._made_beside = not any(p.exists() for p in self._beside)
            self._db = self._open_readonly()
            self.schema = self._checked_schema()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=60000")
            tables = self._tables()
        except (sqlite3.Error, OSError, UnicodeDecodeError) as exc:
            raise self._unopened(exc) from None
        if tables and "trials" not in tables:
            self._db.close()
            raise InputError(f"{str(self.path)!r} is an SQLite database of another application (tables {', '.join(sorted(tables)[:4])}), not an rdpkit result store; choose another path.")
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise self._unopened(exc) from None
        _damaged(Store._check_columns)(self)
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is None:
                version = 1 if db.execute("SELECT 1 FROM trials LIMIT 1").fetchone() else SCHEMA_VERSION
                db.execute("INSERT INTO meta (name, value) VALUES ('schema', ?)", (str(version),))
        self.schema = self._checked_schema()
        if self.schema < SCHEMA_VERSION:
            _damaged(Store._migrate)(self)

    def _unopened(self, exc: Exception) -> InputError:
        """Why the store could not be opened or made for writing, in one sentence: a full disk says so."""
        return _disk_full(self.path, exc) or InputError(f"cannot open or write the result store {str(self.path)!r} ({exc}); choose a writable path.")

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise InputError(f"the result store {str(self.path)!r} does not exist; give the file a run wrote with --store.")
        with self.path.open("rb") as f:
            head = f.read(16)
        if not head:
            raise InputError(f"{str(self.path)!r} is an empty file, not an rdpkit result store; give the file a run wrote with --store.")
        if head != b"SQLite format 3\x00":
            raise InputError(f"{str(self.path)!r} is not an SQLite file, so not an rdpkit result store; give the file a run wrote with --store.")
        try:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=60, isolation_level=None, check_same_thread=False)
            self._db = db
            tables = self._tables()
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the result store {str(self.path)!r} ({type(exc).__name__}); check that the file is readable and not damaged.") from None
        if "trials" not in tables:
            db.close()
            raise InputError(f"{str(self.path)!r} is an SQLite database but not an rdpkit result store (it has no trials table); give the file a run wrote with --store.")
        _damaged(Store._check_columns)(self)
        return db

    def _tables(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _check_columns(self) -> None:
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(trials)")}
        if not _COLUMNS <= columns:
            self._db.close()
            raise InputError(f"{str(self.path)!r} has a trials table without the columns of an rdpkit result store; give the file a run wrote with --store.")

    def _schema(self) -> int:
        if "meta" not in self._tables():
            return 1
        row = self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        return int(row[0]) if row else 1

    def _checked_schema(self) -> int:
        """The store's schema version, refused when it is newer than this rdpkit reads or unreadable."""
        schema = _damaged(Store._schema)(self)
        if schema > SCHEMA_VERSION:
            self._db.close()
            raise InputError(f"the result store {str(self.path)!r} was written by a newer rdpkit (schema {schema}, this one reads up to {SCHEMA_VERSION}); upgrade rdpkit to read it.")
        return schema

    def _upgraded(self, t: StoredTrial) -> StoredTrial:
        """A row of an older schema as the current one reads it (read-only stores are upgraded on the fly)."""
        if self.schema >= SCHEMA_VERSION:
            return t
        upgrade = self.upgrades.get(t.kind)
        if upgrade is None:
            return t
        config, result = upgrade(t.config, t.result)
        return StoredTrial(config_key(config), t.kind, config, t.status, result, t.error, t.started, t.finished)

    def _migrate(self) -> None:
        """Rewrite every row of a schema-1 store in the current schema, under new keys, in one transaction."""
        with self._transaction() as db:
            for key, kind, config, result in db.execute("SELECT key, kind, config, result FROM trials").fetchall():
                upgrade = self.upgrades.get(kind)
                if upgrade is None:
                    continue
                new_config, new_result = upgrade(json.loads(config), json.loads(result) if result else None)
                new_key = config_key(new_config)
                if new_result is not None:
                    new_result = {**new_result, "key": new_key} if "key" in new_result else new_result
                db.execute("UPDATE trials SET key = ?, config = ?, result = ? WHERE key = ?",
                           (new_key, json.dumps(new_config, sort_keys=True, default=str), json.dumps(new_result, default=str) if new_result is not None else None, key))
                db.execute("UPDATE artifacts SET key = ? WHERE key = ?", (new_key, key))
            db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION),))
        self.schema = SCHEMA_VERSION

    def close(self) -> None:
        """Close the file; a read-only store leaves nothing beside it that it made (see `_remove_unused`)."""
        self._db.close()
        if self.readonly and self._made_beside:
            _remove_unused(*self._beside)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a file or disk that refuses the write (read-only, immutable, full) is one sentence, the store as it was."""
        if self.readonly:
            raise InputError(f"the result store {str(self.path)!r} was opened read-only; this command does not write results.")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled it back itself (a full disk)
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            refused = _refused(self.path, exc)
            if refused is None:
                raise
            raise refused from None

    def check_writable(self) -> None:
        """One sentence now, before any work, when the file takes no write (read-only, immutable, on a read-only disk)."""
        with self._transaction() as db:
            db.execute("DELETE FROM meta WHERE name = ''")  # deletes nothing, but SQLite refuses it as a write to a read-only file

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

    def reset(self, key: str) -> None:
        """Forget a trial (its row and artifacts), so that the next claim runs it afresh."""
        with self._transaction() as db:
            db.execute("DELETE FROM artifacts WHERE key = ?", (key,))
            db.execute("DELETE FROM trials WHERE key = ?", (key,))

    @_damaged
    def owner_alive(self, key: str) -> bool:
        """Whether a running trial's claim belongs to a live process (a killed run's claims do not)."""
        row = self._db.execute("SELECT owner FROM trials WHERE key = ?", (key,)).fetchone()
        return bool(row) and _alive(row[0])

    @_damaged
    def kinds(self) -> list[str]:
        """The kinds of trial the store holds, in order of first appearance."""
        return [r[0] for r in self._db.execute("SELECT kind FROM trials GROUP BY kind ORDER BY MIN(started)")]

    def fail(self, key: str, error: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE trials SET status = 'failed', error = ?, finished = ? WHERE key = ?", (error, time.time(), key))

    def _stored_key(self, key: str) -> str:
        """The key a row has in the file: in a read-only store of an older schema, keys are upgraded on read."""
        if self.schema >= SCHEMA_VERSION:
            return key
        if self._old_keys is None:
            rows = self._db.execute("SELECT key, kind, config FROM trials").fetchall()
            self._old_keys = {}
            for old, kind, config in rows:
                upgrade = self.upgrades.get(kind)
                self._old_keys[config_key(upgrade(json.loads(config), None)[0]) if upgrade else old] = old
        return self._old_keys.get(key, key)

    @_damaged
    def status(self, key: str) -> str | None:
        row = self._db.execute("SELECT status FROM trials WHERE key = ?", (self._stored_key(key),)).fetchone()
        return row[0] if row else None

    @_damaged
    def get(self, key: str) -> StoredTrial | None:
        rows = self._select("WHERE key = ?", (self._stored_key(key),))
        return rows[0] if rows else None

    @_damaged
    def trials(self, kind: str | None = None, status: str | None = None) -> list[StoredTrial]:
        clauses, args = [], []
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if status:
            clauses.append("status = ?")
            args.append(status)
        return self._select(("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(args))

    @_damaged
    def artifact(self, key: str, name: str) -> bytes | None:
        row = self._db.execute("SELECT data FROM artifacts WHERE key = ? AND name = ?", (self._stored_key(key), name)).fetchone()
        return bytes(row[0]) if row else None

    @_damaged
    def artifact_names(self, key: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM artifacts WHERE key = ? ORDER BY name", (self._stored_key(key),))]

    def _select(self, where: str, args: tuple[Any, ...]) -> list[StoredTrial]:
        """Rows as trials; a claim whose process is gone reads as ``interrupted`` (the next run takes it over)."""
        rows = self._db.execute(
            f"SELECT key, kind, config, status, result, error, started, finished, owner FROM trials {where} ORDER BY started, key", args
        ).fetchall()
        return [
            self._upgraded(StoredTrial(k, kind, _json_object(c), "interrupted" if s == "running" and not _alive(o) else s,
                                       _json_object(r) if r else None, e, st, fi))
            for k, kind, c, s, r, e, st, fi, o in rows
        ]


