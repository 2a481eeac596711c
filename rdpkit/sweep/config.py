"""A sweep, as declared in TOML: codecs with grids of options, data, evaluation, seeds.

A minimal file::

    [sweep]
    name = "digits-smoke"
    seeds = [0]

    [data]
    source = "digits"            # digits | builtin:NAME,NAME,... | a folder of PNG/JPEG files

    [[codec]]
    name = "gan"
    grid = { dim = [2, 4], levels = [4] }
    lambdas = [0.0, 0.05]        # perception weights λ, the codec's `lam` option
    training_distortion = "mse"  # the codec's `distortion` option
    fit = { steps = 300 }

    [evaluate]
    distortions = ["mse"]
    divergences = ["wasserstein-sliced"]
    critic = "wasserstein-critic"

`SweepConfig.validate` checks everything that can be checked without running a trial
(names, options, empty grids, image sizes, the store) and raises one `InputError` sentence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, RdpkitError, suggestion
from ..registry import Registry

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

#: The codec options that the sweep's perception weights and training distortion set.
LAMBDA_OPTION = "lam"
DISTORTION_OPTION = "distortion"


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            hint = suggestion(key, allowed) or f"allowed keys are {', '.join(allowed)}"
            raise InputError(f"unknown key {key!r} in {where}; {hint}.")


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{what} must be a list (e.g. [1, 2]), got {value!r}.")
    if not value:
        raise InputError(f"{what} is empty; give at least one value.")
    return value


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they are split: codec training, critic reference, test."""

    source: str = "digits"
    size: int | None = None  # side of the square images are brought to (not for digits)
    gray: bool = False
    limit: int | None = None  # use at most this many images
    split: tuple[float, float, float] = (0.5, 0.25, 0.25)
    split_seed: int = 0

    KEYS = ("source", "size", "gray", "limit", "split", "split_seed")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataConfig:
        _check_keys(d, cls.KEYS, "[data]")
        out = cls(**{k: tuple(v) if k == "split" else v for k, v in d.items()})
        if len(out.split) != 3 or any(not isinstance(f, (int, float)) or f <= 0 for f in out.split) or abs(sum(out.split) - 1) > 1e-9:
            raise InputError(f"[data] split must be three positive fractions (codec training, critic reference, test) adding up to 1, got {list(out.split)}.")
        if out.limit is not None and (not isinstance(out.limit, int) or out.limit < 8):
            raise InputError(f"[data] limit must be an integer of at least 8 images, got {out.limit!r}.")
        if out.source != "digits" and not out.size:
            raise InputError(f"[data] source {out.source!r} needs a size (the side images are scaled and cropped to), e.g. size = 32.")
        return out


@dataclass(frozen=True)
class CodecConfig:
    """One codec and the grid of its options; every combination is a trial (per seed)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)  # fixed options
    grid: dict[str, list[Any]] = field(default_factory=dict)  # varied options
    lambdas: list[float] | None = None
    training_distortion: str | None = None
    fit: dict[str, Any] = field(default_factory=dict)  # keyword arguments of codec.fit
    label: str = ""

    KEYS = ("name", "options", "grid", "lambdas", "training_distortion", "fit", "label")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], index: int) -> CodecConfig:
        where = f"[[codec]] number {index + 1}"
        _check_keys(d, cls.KEYS, where)
        if not isinstance(d.get("name"), str) or not d["name"]:
            raise InputError(f"{where} needs a name, e.g. name = \"jpeg\".")
        grid = d.get("grid", {})
        for table in ("options", "grid", "fit"):
            if not isinstance(d.get(table, {}), dict):
                raise InputError(f"{table} of {where} must be a table, e.g. {table} = {{ key = 1 }}.")
        grid = {k: _as_list(v, f"grid option {k!r} of codec {d['name']!r}") for k, v in grid.items()}
        lambdas = d.get("lambdas")
        if lambdas is not None:
            lambdas = _as_list(lambdas, f"lambdas of codec {d['name']!r}")
            if any(not isinstance(v, (int, float)) or v < 0 or not math.isfinite(v) for v in lambdas):
                raise InputError(f"lambdas of codec {d['name']!r} must be finite numbers ≥ 0, got {lambdas}.")
        both = set(grid) & set(d.get("options", {}))
        if both:
            raise InputError(f"option {min(both)!r} of codec {d['name']!r} is both fixed (options) and varied (grid); keep one.")
        return cls(d["name"], dict(d.get("options", {})), grid, lambdas, d.get("training_distortion"), dict(d.get("fit", {})), d.get("label", d["name"]))

    def settings(self) -> list[dict[str, Any]]:
        """Every combination of options, in grid order (λ varying fastest)."""
        grid = dict(self.grid)
        if self.lambdas is not None:
            grid[LAMBDA_OPTION] = self.lambdas
        fixed = dict(self.options)
        if self.training_distortion is not None:
            fixed[DISTORTION_OPTION] = self.training_distortion
        names = list(grid)
        return [{**fixed, **dict(zip(names, values))} for values in itertools.product(*(grid[n] for n in names))]


@dataclass(frozen=True)
class EvaluateConfig:
    """How each trial is measured: distortions (the first is the primary one), divergences, critic."""

    distortions: tuple[str, ...] = ("mse",)
    divergences: tuple[str, ...] = ()
    #: The divergence whose fresh critic, trained on held-out data against the decoded
    #: outputs, gives the perception index (ICML 2019 footnote 7); "" for none.
    critic: str = "wasserstein-critic"
    critic_options: dict[str, Any] = field(default_factory=dict)
    samples: int = 16  # decoded test images stored per trial
    bootstrap: int = 0  # bootstrap resamples for the divergences' intervals

    KEYS = ("distortions", "divergences", "critic", "critic_options", "samples", "bootstrap")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvaluateConfig:
        _check_keys(d, cls.KEYS, "[evaluate]")
        out = dict(d)
        out["distortions"] = tuple(_as_list(d.get("distortions", ["mse"]), "[evaluate] distortions"))
        out["divergences"] = tuple(d.get("divergences", ()))
        ev = cls(**out)
        if not ev.critic and not ev.divergences:
            raise InputError("[evaluate] measures no perception index; name a critic or at least one divergence.")
        return ev

    @property
    def perception(self) -> str:
        """The divergence reported as the trial's perception index."""
        return self.critic or self.divergences[0]


@dataclass(frozen=True)
class SweepConfig:
    name: str
    codecs: tuple[CodecConfig, ...]
    data: DataConfig = DataConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    seeds: tuple[int, ...] = (0,)
    device: str = "auto"  # auto: a GPU when there is one, else the CPU
    threads: int = 1  # torch threads per trial

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SweepConfig:
        _check_keys(d, ("sweep", "data", "codec", "evaluate"), "the sweep file")
        head = d.get("sweep", {})
        _check_keys(head, ("name", "seeds", "device", "threads"), "[sweep]")
        codecs = d.get("codec")
        if not codecs:
            raise InputError("the sweep declares no codec; add a [[codec]] table with a name and a grid of its options.")
        if isinstance(codecs, dict):
            codecs = [codecs]
        seeds = tuple(_as_list(head.get("seeds", [0]), "[sweep] seeds"))
        if any(not isinstance(s, int) or s < 0 for s in seeds):
            raise InputError(f"[sweep] seeds must be non-negative integers, got {list(seeds)}.")
        threads = head.get("threads", 1)
        if not isinstance(threads, int) or threads < 1:
            raise InputError(f"[sweep] threads must be a positive integer, got {threads!r}.")
        device = head.get("device", "auto")
        if not isinstance(device, str) or not (device in ("auto", "cpu") or device.startswith("cuda")):
            raise InputError(f"[sweep] device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}.")
        return cls(
            name=str(head.get("name", "sweep")),
            codecs=tuple(CodecConfig.from_dict(c, i) for i, c in enumerate(codecs)),
            data=DataConfig.from_dict(d.get("data", {})),
            evaluate=EvaluateConfig.from_dict(d.get("evaluate", {})),
            seeds=seeds,
            device=device,
            threads=threads,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepConfig:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read the sweep file {str(path)!r} ({exc.strerror}); give the path of a TOML file.") from None
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{str(path)!r} is not valid TOML ({exc}); fix that line.") from None

    def trials(self) -> list[dict[str, Any]]:
        """Every trial's configuration: JSON-serialisable, and what its store key hashes."""
        data = asdict(self.data)
        data["split"] = list(self.data.split)
        evaluate = asdict(self.evaluate)
        evaluate["distortions"], evaluate["divergences"] = list(self.evaluate.distortions), list(self.evaluate.divergences)
        return [
            {"codec": c.name, "label": c.label, "options": options, "fit": c.fit, "seed": seed, "data": data, "evaluate": evaluate}
            for c in self.codecs
            for options in c.settings()
            for seed in self.seeds
        ]

    def validate(self, registry: Registry) -> None:
        """Raise one InputError sentence for anything that would make a trial fail before it trains."""

        for dist in self.evaluate.distortions:
            registry.info("distortion", dist)
        for div in (*self.evaluate.divergences, *([self.evaluate.critic] if self.evaluate.critic else [])):
            registry.info("divergence", div)
        if self.evaluate.critic:
            registry.create("divergence", self.evaluate.critic, **self.evaluate.critic_options)
        side = _image_side(self.data)
        for name in self.evaluate.distortions:
            need = registry.create("distortion", name).min_size
            if side < need:
                raise InputError(f"distortion {name!r} needs images of at least {need}×{need}, but the sweep's are {side}×{side}; drop it from [evaluate] distortions or raise [data] size.")
        for c in self.codecs:
            info = registry.info("codec", c.name)
            if c.training_distortion is not None:
                registry.info("distortion", c.training_distortion)
            for options in c.settings():
                try:
                    codec = registry.create("codec", c.name, **options)
                except InputError as exc:
                    raise InputError(f"{exc} (in the sweep's [[codec]] {c.label!r})") from None
                except RdpkitError as exc:
                    raise InputError(f"codec {c.name!r} refuses options {options}: {exc}") from None
            if (c.fit or c.lambdas is not None) and not codec.learnable:
                what = "fit options" if c.fit else "perception weights (lambdas)"
                raise InputError(f"codec {c.name!r} ({info.distribution}) is not learnable, so it takes no {what}; remove them from its [[codec]] table.")
            if codec.learnable:
                _check_fit_options(codec, c.fit)
            if side < codec.min_size:
                raise InputError(f"codec {c.name!r} needs images of at least {codec.min_size}×{codec.min_size}, but the sweep's are {side}×{side}; raise [data] size.")


def _check_fit_options(codec: Any, fit: Mapping[str, Any]) -> None:
    import inspect

    params = inspect.signature(codec.fit).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][1:]  # after `data`
    for key in fit:
        if key not in accepted:
            hint = suggestion(key, accepted) or f"it accepts {', '.join(accepted)}"
            raise InputError(f"fit() of codec {codec.codec_name!r} has no option {key!r}; {hint}.")


def _image_side(data: DataConfig) -> int:
    """The side of the sweep's images, checking that the source exists."""
    if data.source == "digits":
        return 8
    if data.source.startswith("builtin:"):
        from ..data import BUILTIN_IMAGES, builtin_names

        for name in data.source.split(":", 1)[1].split(","):
            if name not in BUILTIN_IMAGES:
                raise InputError(f"unknown built-in image {name!r} in [data] source; {suggestion(name, BUILTIN_IMAGES) or 'known: ' + ', '.join(builtin_names())}")
    else:
        from ..data import folder_files

        folder_files(data.source)
    return int(data.size)  # type: ignore[arg-type]
