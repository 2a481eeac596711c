"""Files written whole or not at all: `replacing` gives a temporary file beside the target, renamed onto it once written.

Used by every writer of outputs (rdpkit.report's CSV, HTML and figures; rdpkit.data.save_png), so a
write that fails (a full disk) leaves the file as it was, never truncated, and is one sentence.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import InputError


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` to write, renamed to `path` once whole, so that a write that fails (a full disk)
    leaves the file as it was, never truncated; the failure is one sentence."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InputError(f"the disk is full: {str(path)!r} could not be written ({exc.strerror}); free some space and run the command again.") from None
        raise InputError(f"cannot write {str(path)!r} ({exc.strerror or exc}); make its folder writable or choose another output path.") from None
    finally:
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
