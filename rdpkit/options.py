"""The one way to name a component with options, on the command line and in TOML alike.

A *component* is a registered name, optionally followed by options::

    mse
    lpips-alex,pretrained=false
    wasserstein-critic,steps=200,hidden=64
    rdpkit-pim:pim,checkpoint="models/pim.safetensors"

Options are ``KEY=VALUE`` pairs separated by commas; each VALUE is read as a TOML value
(``10``, ``0.5``, ``inf``, ``true``, ``"text"``, ``[1, 2]``, ``{patch = 32}``), and a bare word
that is not one is kept as text (``distortion=mse``). Commas inside brackets or quotes do not
separate options. The same string works after ``--distortion``, ``--codec``, ``--perception``...
and wherever a sweep file names a component. A bare option list (``steps=300,batch_size=64``)
is what ``--fit`` takes.

The grammar reads back what it writes: ``Component.parse(str(c)) == c`` for any options made of
text, booleans, integers, floats (NaN reads back as NaN, which Python never calls equal to
itself), lists and tables of them, however nested.

A component inside another is its component string as a value, quoted::

    frechet,extractor="nss,patch=32"
    weighted-sum,terms=[["mse", 1.0], ["pim,scales=3", 0.1]]

and the registry that creates the outer one creates the inner ones (`rdpkit.registry.active_registry`).

A list given for an option that takes one value is a grid, one setting per value:
``jpeg,quality=[5,10,20]`` is three settings (`Component.settings`). An option that takes a list
(a variable-rate model's ``lam``) takes ``lam=[0.1,0.2]`` as its value, and a list of such
lists as a grid of them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    from .registry import Registry

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

EXAMPLE = "lpips-alex,pretrained=false"
#: A component of each kind other than a distortion, as messages show it (by the first word of what the caller calls it).
EXAMPLES = {"codec": ("jpeg", "jpeg,quality=30"), "critic": ("niqe", "niqe,patch=32"), "divergence": ("wasserstein-sliced", "wasserstein-critic,steps=200")}
#: Characters a bare (unquoted) text value never holds: they separate options, open brackets or quotes, or are unprintable.
_NOT_BARE = set(',\'"[]{}\\') | {chr(c) for c in range(0x20)} | {"\x7f"}
#: Table keys TOML reads unquoted; any other key is written quoted.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _unquoted(text: str) -> Iterator[tuple[int, str, bool]]:
    """Each character of `text`, with whether it stands outside quotes (quotes included, they are inside).

    TOML's basic strings ("...") escape with a backslash; its literal strings ('...') do not.
    """
    quote, escaped = "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        else:
            yield i, ch, True
            continue
        yield i, ch, False


def _split(text: str) -> list[str]:
    """Split on commas that are outside brackets, braces and quotes."""
    parts, depth, start = [], 0, 0
    for i, ch, outside in _unquoted(text):
        if not outside:
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _toml(text: str) -> Any:
    return tomllib.loads(f"v = {text}")["v"]


def _quote_bare_words(text: str) -> str:
    """``[[mse, 1.0]]`` → ``[["mse", 1.0]]``: what earlier versions wrote inside lists, made TOML."""
    out: list[str] = []
    word = ""

    def flush() -> None:
        nonlocal word
        if word:
            try:
                _toml(word)
                out.append(word)
            except tomllib.TOMLDecodeError:
                out.append(_quote(word))
            word = ""

    for _, ch, outside in _unquoted(text):
        if outside and not (ch in "[]{},=" or ch.isspace()):
            word += ch
        else:
            flush()
            out.append(ch)
    flush()
    return "".join(out)


def parse_value(text: str) -> Any:
    """A TOML value, or the text itself when it is not one (a bare word such as mse).

    Bare words inside lists and tables (``[[mse, 1.0]]``, as earlier versions wrote them) are read as text too.
    """
    text = text.strip()
    try:
        return _toml(text)
    except tomllib.TOMLDecodeError:
        pass
    if text.startswith(("[", "{")):
        try:
            return _toml(_quote_bare_words(text))
        except tomllib.TOMLDecodeError:
            pass
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


def _quote(text: str) -> str:
    """A TOML basic string holding `text`."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise InputError(f"option text {text!r} holds a lone surrogate, which no text file can; pass valid Unicode text.")
    escaped = "".join(_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ch < " " or ch == "\x7f" else ch) for ch in text)
    return f'"{escaped}"'


def _is_bare(text: str) -> bool:
    """Whether `text` reads back as itself unquoted, wherever it stands among options."""
    return bool(text) and text == text.strip() and not _NOT_BARE.intersection(text) and parse_value(text) == text


def format_value(value: Any, *, top: bool = True) -> str:
    """The text `parse_value` reads back as `value`: TOML, with text left bare (``mse``) where it reads back as itself.

    Inside lists and tables every text is quoted, so the whole value is TOML.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return value if top and _is_bare(value) else _quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, top=False) for v in value) + "]"
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise InputError(f"table key {k!r} is not text; option tables are keyed by text, e.g. {{patch = 32}}.")
        return "{" + ", ".join(f"{k if _BARE_KEY.fullmatch(k) else _quote(k)} = {format_value(v, top=False)}" for k, v in value.items()) + "}"
    raise InputError(f"option value {value!r} of type {type(value).__name__} cannot be written as text; use numbers, booleans, text, lists or tables.")


def _format_key(key: str) -> str:
    if not isinstance(key, str) or not key.isidentifier():
        raise InputError(f"option name {key!r} cannot be written in a component string; option names are identifiers such as batch_size.")
    return key


def _list_depth(value: Any) -> int:
    """0 for a scalar, 1 for a list of scalars, 2 for a list of lists, ..."""
    return 1 + max((_list_depth(v) for v in value), default=0) if isinstance(value, list) else 0


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
        bare, example = EXAMPLES.get(what.partition(" ")[0], ("mse", EXAMPLE))
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"a {what} must be a name such as {bare!r}, optionally with options ({example!r}), got {text!r}.")
        name, _, rest = text.strip().partition(",")
        if "=" in name:
            raise InputError(f"{what} {text!r} starts with an option; put the name first, e.g. {example!r}.")
        return cls(name.strip(), parse_options(rest, what=f"{what} {text!r}"))

    def __str__(self) -> str:
        return ",".join([self.name, *(f"{_format_key(k)}={format_value(v)}" for k, v in self.options.items())])

    def with_options(self, **options: Any) -> Component:
        return Component(self.name, {**self.options, **options})

    def create(self, kind: str, registry: Registry | None = None) -> Any:
        """The component, built by `registry` (default: `rdpkit.registry.active_registry()`)."""
        from .registry import active_registry

        return (registry or active_registry()).create(kind, self.name, **self.options)

    def grid(self, kind: str, registry: Registry | None = None) -> tuple[Component, dict[str, list[Any]]]:
        """The options that stay fixed (as a component) and those varied over, each with its values.

        An option is varied when its value is a list nested deeper than what the option takes
        (`Registry.list_depth`): ``quality=[5,10]`` for an integer, ``lam=[[0.1,0.2],[0.4]]``
        for a list of numbers.
        """
        from .registry import active_registry

        registry = registry or active_registry()
        fixed: dict[str, Any] = {}
        varied: dict[str, list[Any]] = {}
        for key, value in self.options.items():
            if isinstance(value, list) and _list_depth(value) > registry.list_depth(kind, self.name, key):
                if not value:
                    raise InputError(f"{kind} option {key!r} of {str(self)!r} is an empty list; give at least one value.")
                varied[key] = value
            else:
                fixed[key] = value
        return Component(self.name, fixed), varied

    def settings(self, kind: str, registry: Registry | None = None) -> list[Component]:
        """One component per combination of the varied options (see `grid`), the last one varying fastest."""
        return combinations(*self.grid(kind, registry))


def combinations(fixed: Component, varied: Mapping[str, list[Any]]) -> list[Component]:
    """`fixed` with every combination of the `varied` options' values, the last option varying fastest."""
    return [fixed.with_options(**dict(zip(varied, values))) for values in itertools.product(*varied.values())]


def components(values: Any, what: str) -> tuple[Component, ...]:
    """A list of component strings (a TOML array, or repeated CLI options), parsed."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise InputError(f"{what} must be a list of names, e.g. [\"mse\", \"{EXAMPLE}\"], got {values!r}.")
    return tuple(Component.parse(v, what=what.rstrip("s")) for v in values)


#: The environment variable by which a user lets component options name Python code to import and run
#: (compressai-model,model="package.module:callable"): set by `--trust-code`, or by a program itself; worker processes inherit it.
TRUST_ENV = "RDPKIT_TRUST_CODE"


def code_trusted() -> bool:
    """Whether options may name code to import and run (never from a configuration file alone)."""
    import os

    return os.environ.get(TRUST_ENV) == "1"
