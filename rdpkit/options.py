"""The one way to name a component with options, on the command line and in TOML alike.

A *component* is a registered name, optionally followed by options::

    mse
    lpips-alex,pretrained=false
    wasserstein-critic,steps=200,hidden=64
    rdpkit-pim:pim,checkpoint="models/pim.safetensors"

Options are ``KEY=VALUE`` pairs separated by commas; each VALUE is read as a TOML value
(``10``, ``0.5``, ``true``, ``"text"``, ``[1, 2]``), and a bare word that is not one is kept as
text (``distortion=mse``). Commas inside brackets or quotes do not separate options. The same
string works after ``--distortion``, ``--codec``, ``--perception``... and wherever a sweep file
names a component. A bare option list (``steps=300,batch_size=64``) is what ``--fit`` takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

EXAMPLE = "lpips-alex,pretrained=false"


def _split(text: str) -> list[str]:
    """Split on commas that are outside brackets, braces and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_value(text: str) -> Any:
    """A TOML value, or the text itself when it is not one (a bare word such as mse)."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_options(text: str, *, what: str = "options") -> dict[str, Any]:
    """``"steps=300,batch_size=64"`` → ``{"steps": 300, "batch_size": 64}`` (empty text: no options)."""
    options: dict[str, Any] = {}
    if not text.strip():
        return options
    for item in _split(text):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key or not value.strip():
            raise InputError(f"{what} {text!r} has {item.strip()!r}, which is not KEY=VALUE; write e.g. {EXAMPLE.split(',', 1)[1]}.")
        if key in options:
            raise InputError(f"{what} {text!r} sets {key!r} twice; keep one.")
        options[key] = parse_value(value)
    return options


def format_value(value: Any) -> str:
    """The text `parse_value` reads back as `value` (TOML literals; bare words stay bare)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return value if value and parse_value(value) == value and "," not in value else json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {format_value(v)}" for k, v in value.items()) + "}"
    raise InputError(f"option value {value!r} of type {type(value).__name__} cannot be written as text; use numbers, booleans, text or lists.")


@dataclass(frozen=True)
class Component:
    """A registered name and the options to create it with."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | Component, *, what: str = "component") -> Component:
        """Read ``NAME[,KEY=VALUE...]``; a Component is returned unchanged."""
        if isinstance(text, Component):
            return text
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"a {what} must be a name such as 'mse', optionally with options ({EXAMPLE!r}), got {text!r}.")
        name, _, rest = text.strip().partition(",")
        if "=" in name:
            raise InputError(f"{what} {text!r} starts with an option; put the name first, e.g. {EXAMPLE!r}.")
        return cls(name.strip(), parse_options(rest, what=f"{what} {text!r}"))

    def __str__(self) -> str:
        return ",".join([self.name, *(f"{k}={format_value(v)}" for k, v in self.options.items())])

    def with_options(self, **options: Any) -> Component:
        return Component(self.name, {**self.options, **options})

    def create(self, kind: str, registry: Any = None) -> Any:
        """The component, built by `registry` (default: the global one)."""
        from .registry import get_registry

        return (registry or get_registry()).create(kind, self.name, **self.options)


def components(values: Any, what: str) -> tuple[Component, ...]:
    """A list of component strings (a TOML array, or repeated CLI options), parsed."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise InputError(f"{what} must be a list of names, e.g. [\"mse\", \"{EXAMPLE}\"], got {values!r}.")
    return tuple(Component.parse(v, what=what.rstrip("s")) for v in values)
