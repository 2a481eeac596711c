"""The registry: one pluggy PluginManager, plugins loaded one by one, specs resolved by name.

Importing rdpkit loads no plugin. The default registry is built on first use and cached;
tests and plugin authors build their own with ``Registry(entry_points=False)`` and register
plugin objects in-process.
"""

from __future__ import annotations

import contextvars
import importlib
import importlib.metadata as md
import inspect
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import (
    AmbiguousNameError,
    InputError,
    PluginError,
    PluginUnavailable,
    RdpkitError,
    UnknownNameError,
    suggestion,
)
from .hookspecs import COMMANDS, HOOK_NAMES, HOOKS, PROJECT
from .spec import KINDS, PRESET, RESERVED_DISTRIBUTION, Info, Spec, component_name  # noqa: F401  (re-exported)

ENTRY_POINT_GROUP = "rdpkit"


@dataclass
class PluginRecord:
    """What `rdpkit plugins` shows for one plugin."""

    name: str
    distribution: str
    version: str
    status: str = "loaded"  # loaded | failed | unavailable
    error: str = ""
    registered: list[str] = field(default_factory=list)  # "kind:name"
    problems: list[str] = field(default_factory=list)  # specs that were refused

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Registry:
    """Finds plugins, keeps what each registered, and creates components by name."""

    def __init__(self, *, entry_points: bool = True, plugins: Iterable[Any] = ()) -> None:
        self._use_entry_points = entry_points
        self._lock = threading.RLock()
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._records: dict[str, PluginRecord] = {}
        self._discovered = False
        self._entries: dict[str, dict[str, list[Info]]] | None = None
        for plugin in plugins:
            self.register(plugin)

    # -- plugins ---------------------------------------------------------------------------

    def register(self, plugin: Any, name: str | None = None, *, distribution: str | None = None, version: str = "0+local") -> PluginRecord:
        """Register an in-process plugin: a module or object whose functions carry @rdpkit.hookimpl."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        return self._add(plugin, name, distribution or name, version)

    def _add(self, plugin: Any, name: str, distribution: str, version: str) -> PluginRecord:
        with self._lock:
            record = PluginRecord(name=name, distribution=distribution, version=version)
            if name in self._records:
                record.status, record.error = "failed", f"a plugin named {name!r} is already registered (from {self._records[name].distribution})"
                self._records[f"{name} ({distribution})"] = record
                return record
            self._records[name] = record
            unknown = [a for a in dir(plugin) if getattr(getattr(plugin, a, None), f"{PROJECT}_impl", None) is not None and a not in HOOK_NAMES]
            if unknown:
                record.status = "failed"
                record.error = f"defines hook {unknown[0]!r}, which rdpkit does not know; " + (suggestion(unknown[0], HOOK_NAMES) or "the hooks are " + ", ".join(HOOK_NAMES))
                return record
            try:
                self._pm.register(plugin, name=name)
            except Exception as exc:  # pluggy's validation errors: wrong signature, registered twice
                record.status, record.error = "failed", _error_text(exc)
            self._entries = None
            return record

    def _discover(self) -> None:
        if self._discovered or not self._use_entry_points:
            return
        self._discovered = True
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            try:
                plugin = ep.load()
            except PluginUnavailable as exc:
                self._records[ep.name] = PluginRecord(ep.name, dist, version, status="unavailable", error=str(exc))
                continue
            except Exception as exc:  # a broken plugin must not take the others down
                self._records[ep.name] = PluginRecord(ep.name, dist, version, status="failed", error=f"import of {ep.value!r} raised {_error_text(exc)}")
                continue
            self._add(plugin, ep.name, dist, version)

    def _collect(self) -> dict[str, dict[str, list[Info]]]:
        with self._lock:
            self._discover()
            if self._entries is not None:
                return self._entries
            per_plugin: dict[str, list[Info]] = {}
            for record in self._records.values():
                record.problems = []
            for kind, hook in HOOKS.items():
                for impl in getattr(self._pm.hook, hook).get_hookimpls():
                    record = self._records[impl.plugin_name]
                    if record.status != "loaded":
                        continue
                    try:
                        specs = impl.function()
                    except PluginUnavailable as exc:
                        record.status, record.error = "unavailable", str(exc)
                        continue
                    except Exception as exc:
                        record.status, record.error = "failed", f"hook {hook}() raised {_error_text(exc)}"
                        continue
                    if not isinstance(specs, (list, tuple)):
                        record.status, record.error = "failed", f"hook {hook}() returned {type(specs).__name__}, not a list of rdpkit.Spec"
                        continue
                    for spec in specs:
                        problem = spec.problem() if isinstance(spec, Spec) else f"{spec!r} is not an rdpkit.Spec"
                        if problem:
                            record.problems.append(f"{kind}: {problem}")
                            continue
                        per_plugin.setdefault(impl.plugin_name, []).append(
                            Info.from_spec(kind, spec, plugin=record.name, distribution=record.distribution, version=record.version)
                        )
            entries: dict[str, dict[str, list[Info]]] = {k: {} for k in HOOKS}
            for plugin_name, infos in per_plugin.items():
                record = self._records[plugin_name]
                record.registered = []
                if record.status != "loaded":  # a plugin that failed in any hook registers nothing
                    continue
                for info in infos:
                    entries[info.kind].setdefault(info.name, []).append(info)
                    record.registered.append(f"{info.kind}:{info.name}")
            for kind, by_name in entries.items():
                for name, infos in by_name.items():
                    if len(infos) > 1 and any(i.distribution == RESERVED_DISTRIBUTION for i in infos):
                        for i in infos:
                            if i.distribution != RESERVED_DISTRIBUTION:
                                self._records[i.plugin].problems.append(
                                    f"{kind} {name!r} is a name of rdpkit's own, which plugins cannot take over; "
                                    f"the bare name keeps meaning rdpkit's, this one is reachable as {i.qualified_name!r}")
            self._entries = entries
            return entries

    def commands(self) -> dict[str, Any]:
        """The click commands the loaded plugins add (hook `rdpkit_commands`), by name.

        Each plugin adds to a group of its own, kept only if its hook returns: one that raises is
        recorded as failed, as when a spec hook raises, and adds no command.
        """
        import click

        with self._lock:
            self._collect()
            found: dict[str, Any] = {}
            for impl in getattr(self._pm.hook, COMMANDS).get_hookimpls():
                record = self._records[impl.plugin_name]
                if record.status != "loaded":
                    continue
                group = click.Group()
                try:
                    impl.function(cli=group)
                except Exception as exc:
                    record.status, record.error = "failed", f"hook {COMMANDS}() raised {_error_text(exc)}"
                    self._entries = None  # it registers nothing now, like any plugin that failed in a hook
                    continue
                found.update(group.commands)
            return found

    @property
    def plugins(self) -> list[PluginRecord]:
        """Every plugin seen, loaded or not, in the order found."""
        self._collect()
        return list(self._records.values())

    # -- lookup ----------------------------------------------------------------------------

    def infos(self, kind: str | None = None) -> list[Info]:
        """Every registered component (of one kind), sorted by kind and name."""
        entries = self._collect()
        kinds = [self._check_kind(kind)] if kind else list(KINDS)
        return [i for k in kinds for name in sorted(entries[k]) for i in entries[k][name]]

    def names(self, kind: str) -> list[str]:
        """Names to ask for: the bare name where it is unique, `distribution:name` where it is not."""
        entries = self._collect()[self._check_kind(kind)]
        out = []
        for name in sorted(entries):
            infos = entries[name]
            if len(infos) == 1:
                out.append(name)
            else:  # rdpkit's own keeps the bare name; the others are qualified
                out.extend(name if i.distribution == RESERVED_DISTRIBUTION else i.qualified_name for i in infos)
        return out

    def info(self, kind: str, name: str) -> Info:
        """Resolve a bare or qualified name; raises with close suggestions when unknown."""
        kind = self._check_kind(kind)
        if not isinstance(name, str) or not name:
            raise InputError(f"a {kind} name must be a non-empty string, got {name!r}.")
        entries = self._collect()
        dist, _, bare = name.rpartition(":")
        found = entries[kind].get(bare, [])
        if dist:
            found = [i for i in found if i.distribution == dist]
        if len(found) > 1 and not dist:
            own = [i for i in found if i.distribution == RESERVED_DISTRIBUTION]
            found = own if len(own) == 1 else found
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            qualified = " or ".join(repr(i.qualified_name) for i in found)
            dists = sorted({i.distribution for i in found})
            if len(dists) == 1:
                raise AmbiguousNameError(f"{kind} {bare!r} is registered twice by {dists[0]} (plugins {', '.join(i.plugin for i in found)}); that distribution must register it once.")
            raise AmbiguousNameError(f"{kind} {bare!r} is registered by {' and '.join(dists)}; ask for {qualified}.")
        elsewhere = [k for k in HOOKS if k != kind and bare in entries[k]]
        if elsewhere:
            raise UnknownNameError(f"{bare!r} is a {elsewhere[0]}, not a {kind}; use rdpkit.{elsewhere[0]}({bare!r}).")
        known = list(entries[kind]) + [i.qualified_name for infos in entries[kind].values() for i in infos]
        hint = suggestion(name, known) or (f"known: {', '.join(sorted(entries[kind]))}" if entries[kind] else f"no {kind} is registered")
        broken = [r.name for r in self._records.values() if r.status != "loaded"]
        if broken:
            hint += f" ({len(broken)} plugin(s) did not load: {', '.join(broken)}; `rdpkit plugins` says why)"
        raise UnknownNameError(f"unknown {kind} {name!r}; {hint}")

    def create(self, kind: str, name: str, **options: Any) -> Any:
        """Build the component `name` of `kind` with `options`; it carries its Info as `.info`.

        This is the one place a component gets its Info. While the factory runs, this registry
        is `active_registry()`, so the components it nests (a feature extractor, the terms of a
        weighted sum) come from the same plugins as the component itself.
        """
        if kind == PRESET:
            raise InputError("presets are not components; use Registry.sweep_preset(name).")
        info = self.info(kind, name)
        factory = self._load_factory(info)
        self.check_options(info, factory, options)
        token = _creating.set(self)
        try:
            obj = factory(**options)
        except RdpkitError:
            raise
        except Exception as exc:
            raise PluginError(f"creating {kind} {info.name!r} ({info.distribution} {info.version}) failed with {_error_text(exc)}.") from exc
        finally:
            _creating.reset(token)
        from .interfaces import INTERFACES

        if not isinstance(obj, INTERFACES[kind]):
            raise PluginError(f"the factory of {kind} {info.name!r} ({info.distribution}) returned {type(obj).__name__}, which is not an rdpkit {INTERFACES[kind].__name__}; its plugin is broken.")
        obj.info = info
        return obj

    def list_depth(self, kind: str, name: str, option: str) -> int:
        """How deeply nested a list `option` of a component takes as one value, read from its factory's annotation.

        0 for a number, text or an option whose type is not declared as a list; 1 for
        ``list[float]``; 2 for a list of pairs. A list nested deeper is a grid of values
        (`rdpkit.options.Component.grid`).
        """
        factory = self._load_factory(self.info(kind, name))
        return _list_depth(_type_hints(factory).get(option))

    def factory(self, info: Info) -> Any:
        """The callable that builds `info`'s component (its class, usually), imported on first use."""
        return self._load_factory(info)

    def _load_factory(self, info: Info) -> Any:
        factory = info.factory
        if callable(factory):
            return factory
        module_name, _, attr = factory.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except PluginUnavailable:
            raise
        except Exception as exc:
            raise PluginError(f"{info.kind} {info.name!r} from {info.distribution} {info.version} cannot be loaded ({_error_text(exc)}); reinstall that distribution.") from exc
        return obj

    @staticmethod
    def check_options(info: Info, factory: Any, options: dict[str, Any]) -> None:
        """Unknown options and values of the wrong type, refused in one sentence before the factory runs."""
        if not options:
            return
        params = _parameters(factory)
        if params is None:
            return
        accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = [o for o in options if o not in accepted]
        if unknown:
            takes = f"it accepts {', '.join(accepted)}" if accepted else "it takes no options"
            hint = suggestion(unknown[0], accepted)
            raise InputError(f"{info.kind} {info.name!r} has no option {unknown[0]!r}; {hint + ' ' if hint else ''}{takes}.")
        hints = _type_hints(factory)
        for name, value in options.items():
            expected = _simple_types(hints.get(name))
            if expected and not any(_is_instance(value, t) for t in expected):
                wanted = " or ".join("None" if t is type(None) else {"int": "an integer", "float": "a number", "bool": "true or false", "str": "text"}[t.__name__] for t in expected)
                raise InputError(f"option {name!r} of {info.kind} {info.name!r} must be {wanted}, got {value!r}.")

    def sweep_preset(self, name: str) -> dict[str, Any]:
        """The sweep preset `name` (registered through ``rdpkit_sweep_presets``), as the dict of a sweep file."""
        info = self.info(PRESET, name)
        factory = self._load_factory(info)
        try:
            preset = factory()
        except RdpkitError:
            raise
        except Exception as exc:
            raise PluginError(f"preset {info.name!r} ({info.distribution} {info.version}) failed with {_error_text(exc)}.") from exc
        if not isinstance(preset, dict):
            raise PluginError(f"the factory of preset {info.name!r} ({info.distribution}) returned {type(preset).__name__}, not the dict of a sweep file; its plugin is broken.")
        return preset

    @staticmethod
    def _check_kind(kind: str | None) -> str:
        if kind not in HOOKS:
            raise InputError(f"kind must be one of {', '.join(HOOKS)}, got {kind!r}.")
        return kind  # type: ignore[return-value]


def _parameters(factory: Any) -> list[inspect.Parameter] | None:
    """The keyword parameters a factory takes, or None when it takes any keyword (or cannot be inspected).

    A class that defines no ``__init__`` of its own (nn.Module's accepts ``**kwargs``) takes none.
    """
    if isinstance(factory, type):
        owner = next((c for c in factory.__mro__ if "__init__" in vars(c)), object)
        if owner is object or owner.__module__.split(".")[0] == "torch":
            return []
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    return None if any(p.kind is p.VAR_KEYWORD for p in params) else params


def _type_hints(factory: Any) -> dict[str, Any]:
    """The annotations of a factory's parameters, resolved; empty when they cannot be."""
    import typing

    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:
        return {}


def _simple_types(hint: Any) -> tuple[type, ...]:
    """The types a hint allows when it is int, float, bool, str or None, or a union of them; else () (not checked)."""
    import types
    import typing

    simple = (int, float, bool, str, type(None))
    if hint in simple:
        return (hint,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return args if all(a in simple for a in args) else ()
    return ()


def _list_depth(hint: Any) -> int:
    """0 for a hint that is not a list type; 1 + the depth of its items for list, tuple and Sequence; the deepest member of a union."""
    import collections.abc
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return max(_list_depth(a) for a in typing.get_args(hint))
    if hint in (list, tuple, collections.abc.Sequence) or origin in (list, tuple, collections.abc.Sequence):
        return 1 + max((_list_depth(a) for a in typing.get_args(hint) if a is not Ellipsis), default=0)
    return 0


def _is_instance(value: Any, t: type) -> bool:
    if t is float:  # an integer is a number; a boolean is not
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, t)


_default: Registry | None = None
_default_lock = threading.Lock()
#: The registry whose `create` is running in this context (see `active_registry`).
_creating: contextvars.ContextVar[Registry | None] = contextvars.ContextVar("rdpkit_creating", default=None)


def get_registry() -> Registry:
    """The default registry (entry points on), built on first use and cached."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def active_registry() -> Registry:
    """The registry whose `create` is building a component in this context, else the default one.

    A factory that builds components of its own asks this (through `Component.create`, or
    ``rdpkit.distortion(...)`` and its siblings), so that they come from the registry its
    caller chose: a test's in-process registry builds the test's plugins all the way down.
    """
    return _creating.get() or get_registry()


def distortion(name: str, **options: Any) -> Any:
    """A registered distortion by name, e.g. ``rdpkit.distortion("ssim")(x, x_hat)``."""
    return active_registry().create("distortion", name, **options)


def divergence(name: str, **options: Any) -> Any:
    """A registered divergence estimator by name."""
    return active_registry().create("divergence", name, **options)


def codec(name: str, **options: Any) -> Any:
    """A registered codec by name."""
    return active_registry().create("codec", name, **options)


def critic(name: str, **options: Any) -> Any:
    """A registered critic by name."""
    return active_registry().create("critic", name, **options)


def features(name: str, **options: Any) -> Any:
    """A registered feature extractor by name (images → N×F, for FID and KID)."""
    return active_registry().create("features", name, **options)


def available(kind: str) -> list[str]:
    """Names of the registered components of one kind."""
    return active_registry().names(kind)
