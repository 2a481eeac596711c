"""The exceptions rdpkit raises on purpose.

Every one of them carries a single sentence that says what is wrong and how to fix it;
the CLI prints that sentence instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RdpkitError(Exception):
    """Base class of rdpkit's own errors."""


class InputError(RdpkitError, ValueError):
    """An argument (image batch, sample set, option) is not what the callee accepts."""


class UnknownNameError(RdpkitError, KeyError):
    """A name is not registered; the message suggests the closest registered names."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class AmbiguousNameError(RdpkitError, LookupError):
    """Two distributions register the same bare name; ask for `distribution:name`."""


class PluginError(RdpkitError):
    """A plugin broke: it failed at import, in a hook, or its factory misbehaved."""


class PluginUnavailable(RdpkitError, ImportError):
    """Raised by a plugin whose optional dependency is missing.

    The registry lists such a plugin as *unavailable* (not *failed*), with this message.
    """


class WeightsUnavailable(RdpkitError, FileNotFoundError):
    """Pretrained weights are not on this machine and cannot be downloaded."""


class CorruptBitstream(RdpkitError, ValueError):
    """A bitstream is truncated, damaged, or was written by another codec or version."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The registered names closest to `name`, best first (may be empty)."""
    candidates = list(candidates)
    found = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not found:
        found = [c for c in candidates if name and (name in c or c in name)][:n]
    return found


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """"did you mean 'a' or 'b'?", or an empty string when nothing is close."""
    found = closest(name, candidates)
    return "did you mean " + " or ".join(repr(f) for f in found) + "?" if found else ""
