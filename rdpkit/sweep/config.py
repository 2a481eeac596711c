"""A sweep, as declared in TOML: codecs with grids of options, data, evaluation, seeds.

The reference of every key, with a worked example, is docs/sweep-toml.md. A minimal file::

    [sweep]
    name = "photos"
    seeds = [0]

    [data]
    source = "builtin"               # digits | builtin | builtin:NAME,NAME,... | a folder | a file
    size = 64
    split = [0, 0, 1]                # no codec training; perception against the test images

    [[codec]]
    name = "jpeg,quality=[10, 30, 60]"   # a component (rdpkit.options): a list is one setting per value

    [evaluate]
    distortions = ["mse", "ms-ssim"]
    perception = "wasserstein-sliced"

Components are named as everywhere in rdpkit (``wasserstein-critic,steps=200``). A learnable
codec's perception weights go in ``lambdas``: the sweep sets the option the codec declares as
its `perception_weight`, so this file holds no codec-specific names. Options varied together
rather than crossed (a perception weight per rate) go in ``paired``, lists of one length whose
i-th values make one position: ``paired = { quality = [1, 3], lambdas = [[0, 0.15], [0, 0.05]] }``
is quality 1 with λ 0 and 0.15, and quality 3 with λ 0 and 0.05 (a list at a position is one
setting per value, as in a name).

`SweepConfig.from_dict` type-checks every key and `SweepConfig.validate` checks everything
else that can be checked without running a trial (names, options, image sizes); both raise
one `InputError` sentence before anything runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, RdpkitError, UnknownNameError, suggestion
from ..options import Component, combinations, components, tomllib
from ..registry import Registry

if TYPE_CHECKING:
    import torch

DOCS = "docs/sweep-toml.md"
#: Keys of earlier versions, refused with the sentence that names their replacement.
RETIRED = {
    ("[evaluate]", "critic"): "[evaluate] critic is now perception: the divergence (or no-reference critic) whose value is the perception index, e.g. perception = \"wasserstein-critic\"",
    ("[evaluate]", "critic_options"): "[evaluate] critic_options are now written into perception, e.g. perception = \"wasserstein-critic,steps=200\"",
    ("[[codec]]", "options"): "fixed codec options are now written into the name, e.g. name = \"gan,noise=0.5\"",
    ("[[codec]]", "training_distortion"): "training_distortion is now a codec option written into the name, e.g. name = \"gan,distortion=mse\"",
}


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    if not isinstance(table, Mapping):
        raise InputError(f"{where} must be a table, got {table!r}; see {DOCS}.")
    for key in table:
        retired = RETIRED.get((where if not where.startswith("[[codec]]") else "[[codec]]", key))
        if retired:
            raise InputError(f"{retired}.")
        if key not in allowed:
            hint = suggestion(key, allowed) or f"allowed keys are {', '.join(allowed)}"
            raise InputError(f"unknown key {key!r} in {where}; {hint}.")


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{what} must be a list (e.g. [1, 2]), got {value!r}.")
    if not value:
        raise InputError(f"{what} is empty; give at least one value.")
    return value


def _integer(value: Any, what: str, low: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{what} must be an integer of at least {low}, got {value!r}; e.g. {example}.")
    return value


@dataclass(frozen=True)
class DataConfig:
    """Where images come from (an rdpkit.data.Source) and how they are split: codec training, critic reference, test.

    A reference fraction of 0 compares the decoded test images with the test images themselves
    (the P-D plane of a few photographs); a training fraction of 0 suits codecs that do not learn.
    """

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
        out = cls(**{k: tuple(v) if k == "split" and isinstance(v, list) else v for k, v in d.items()})
        if not isinstance(out.source, str) or not out.source:
            raise InputError(f"[data] source must be text (digits, builtin, builtin:NAME,..., a folder or a file), got {out.source!r}.")
        if out.size is not None:
            _integer(out.size, "[data] size", 1, "size = 64")
        if not isinstance(out.gray, bool):
            raise InputError(f"[data] gray must be true or false, got {out.gray!r}.")
        if out.limit is not None:
            _integer(out.limit, "[data] limit", 2, "limit = 200")
        _integer(out.split_seed, "[data] split_seed", 0, "split_seed = 0")
        split = out.split
        if (not isinstance(split, tuple) or len(split) != 3 or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f <= 1 for f in split)
                or split[2] <= 0 or abs(sum(split) - 1) > 1e-9):
            raise InputError(f"[data] split must be three fractions (codec training, critic reference, test) in [0, 1] adding up to 1, the test one positive, got {d.get('split')!r}.")
        if out.source != "digits" and not out.size:
            raise InputError(f"[data] source {out.source!r} needs a size (the side images are scaled and cropped to), e.g. size = 32.")
        if out.source == "digits" and out.size not in (None, 8):
            raise InputError(f"[data] digits are 8×8 and are not resized; remove size = {out.size}.")
        return out

    def side(self) -> int:
        """The side of the sweep's images, after checking that the source exists."""
        from ..data import Source

        source = Source.parse(self.source)
        return source.native_side or int(self.size)  # type: ignore[arg-type]

    def check_images(self) -> None:
        """Every image of the source read once, before any trial: one that does not read is left out with a `SkippedImage`
        warning naming it and why (the trials leave it out too, see `images`); none that reads is one sentence."""
        if self.source != "digits":
            self.images(warn=True)

    def images(self, *, warn: bool = False) -> torch.Tensor:
        """The source's images that read, brought to `size` (`rdpkit.datasets.readable`; `warn`: a `SkippedImage` warning for each left out)."""
        import torch

        from ..data import Source, load_image
        from ..datasets import readable

        source = Source.parse(self.source)
        if source.kind == "digits":
            return source.load(size=self.size, gray=self.gray)
        kept, _ = readable(source.references(), self.source, functools.partial(load_image, size=self.size, gray=self.gray), warn=warn)
        return torch.cat(list(kept.values()))

    def identity(self) -> dict[str, Any]:
        from ..data import Source

        d = asdict(self)
        d["split"] = list(self.split)
        d["source"] = Source.parse(self.source).identity() if self.source != "digits" else self.source
        return d


@dataclass(frozen=True)
class CodecConfig:
    """One codec (a component) and the grid of its options; every combination is a trial (per seed)."""

    codec: Component
    grid: dict[str, list[Any]] = field(default_factory=dict)  # varied options
    lambdas: list[float] | None = None  # values of the codec's perception-weight option
    fit: dict[str, Any] = field(default_factory=dict)  # keyword arguments of codec.fit
    label: str = ""
    #: Options varied together: lists of one length, position i of each making one setting (or a grid of them);
    #: the key ``lambdas`` stands for the codec's perception weight.
    paired: dict[str, list[Any]] = field(default_factory=dict)

    KEYS = ("name", "grid", "lambdas", "paired", "fit", "label")

    @property
    def name(self) -> str:
        return self.codec.name

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], index: int) -> CodecConfig:
        where = f"[[codec]] number {index + 1}"
        _check_keys(d, cls.KEYS, where)
        if not isinstance(d.get("name"), str) or not d["name"]:
            raise InputError(f"{where} needs a name, e.g. name = \"jpeg\" or name = \"gan,noise=0.5\".")
        codec = Component.parse(d["name"], what="codec")
        for table in ("grid", "fit"):
            if not isinstance(d.get(table, {}), dict):
                raise InputError(f"{table} of {where} must be a table, e.g. {table} = {{ key = 1 }}.")
        grid = {k: _as_list(v, f"grid option {k!r} of codec {codec.name!r}") for k, v in d.get("grid", {}).items()}
        lambdas = d.get("lambdas")
        if lambdas is not None:
            lambdas = _as_list(lambdas, f"lambdas of codec {codec.name!r}")
            if not all(_is_weight(v) for v in lambdas):
                raise InputError(f"lambdas of codec {codec.name!r} must be finite numbers ≥ 0, got {lambdas}.")
        both = set(grid) & set(codec.options)
        if both:
            raise InputError(f"option {min(both)!r} of codec {codec.name!r} is both fixed (in its name) and varied (grid); keep one.")
        paired = _paired(d.get("paired", {}), codec, grid, lambdas is not None)
        label = d.get("label", codec.name)
        if not isinstance(label, str):
            raise InputError(f"label of {where} must be text, got {label!r}.")
        return cls(codec, grid, lambdas, dict(d.get("fit", {})), label, paired)

    def settings(self, registry: Registry) -> list[Component]:
        """Every setting, in grid order: the lists in the name, then `grid`, then `paired`'s positions, then `lambdas` (varying fastest)."""
        fixed, varied = self.codec.grid("codec", registry)
        varied.update(self.grid)
        weight = self._perception_weight(registry) if self.lambdas is not None or "lambdas" in self.paired else None
        positions = [{}] if not self.paired else [
            setting.options
            for i in range(len(next(iter(self.paired.values()))))
            for setting in Component(self.name, {weight if k == "lambdas" else k: v[i] for k, v in self.paired.items()}).settings("codec", registry)]
        lambdas = {} if self.lambdas is None else {weight: self.lambdas}
        return [crossed.with_options(**position, **rest.options)
                for crossed in combinations(fixed, varied) for position in positions for rest in combinations(Component(self.name), lambdas)]

    def _perception_weight(self, registry: Registry) -> str:
        weight = codec_class(registry, self.name).perception_weight
        if weight is None:
            raise InputError(f"codec {self.name!r} declares no perception weight, so it takes no lambdas; remove them from its [[codec]] table.")
        if weight in self.paired and (self.lambdas is not None or "lambdas" in self.paired):
            raise InputError(f"codec {self.name!r} has its perception weight {weight!r} both in paired and as lambdas; keep one.")
        return weight


def _is_weight(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)


def _paired(paired: Any, codec: Component, grid: Mapping[str, Any], has_lambdas: bool) -> dict[str, list[Any]]:
    """`paired` of a [[codec]] table, type-checked: lists of one length, over options varied nowhere else."""
    if not isinstance(paired, dict):
        raise InputError(f"paired of codec {codec.name!r} must be a table of lists of one length, e.g. paired = {{ quality = [1, 3], lambdas = [0.15, 0.05] }}.")
    if len(paired) == 1:
        raise InputError(f"paired of codec {codec.name!r} names one option ({next(iter(paired))!r}); pair at least two, or vary it in the name.")
    out = {k: _as_list(v, f"paired option {k!r} of codec {codec.name!r}") for k, v in paired.items()}
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise InputError(f"the lists of paired in codec {codec.name!r} must have one value per position, but {listed}.")
    for key in out:
        if key in codec.options or key in grid:
            raise InputError(f"option {key!r} of codec {codec.name!r} is both paired and {'in its name' if key in codec.options else 'in grid'}; keep one.")
    if "lambdas" in out:
        if has_lambdas:
            raise InputError(f"codec {codec.name!r} has lambdas both in paired and on their own; keep one.")
        if not all(_is_weight(v) or (isinstance(v, list) and v and all(_is_weight(w) for w in v)) for v in out["lambdas"]):
            raise InputError(f"paired lambdas of codec {codec.name!r} must be finite numbers ≥ 0 or non-empty lists of them (one setting per value), got {out['lambdas']}.")
    return out


@dataclass(frozen=True)
class EvaluateConfig:
    """How each trial is measured: distortions (the first is the primary one), the perception index, more divergences, critics."""

    distortions: tuple[Component, ...] = (Component("mse"),)
    #: The divergence whose value is the trial's perception index (a critic-based one trains a
    #: fresh critic on held-out data against the decoded outputs, ICML 2019 footnote 7), or a
    #: registered no-reference critic, whose mean score is the index.
    perception: Component = Component("wasserstein-critic")
    divergences: tuple[Component, ...] = ()  # measured besides the perception index
    critics: tuple[Component, ...] = ()  # no-reference critics: mean score of the decoded images
    samples: int = 16  # decoded test images stored per trial
    bootstrap: int = 0  # bootstrap resamples for the divergences' intervals (0, or at least 2)
    #: Side of the patches (rdpkit.patches: a grid and one shifted by half a patch, 8-bit) that the
    #: divergences compare, for a few large images; 0: whole images. Distortions and critics see whole images.
    patch: int = 0

    KEYS = ("distortions", "perception", "divergences", "critics", "samples", "bootstrap", "patch")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvaluateConfig:
        _check_keys(d, cls.KEYS, "[evaluate]")
        perception = Component.parse(d.get("perception", "wasserstein-critic"), what="[evaluate] perception")
        divergences = tuple(c for c in components(d.get("divergences", []), "[evaluate] divergences") if c != perception)
        samples = _integer(d.get("samples", 16), "[evaluate] samples", 0, "samples = 16")
        bootstrap = _integer(d.get("bootstrap", 0), "[evaluate] bootstrap", 0, "bootstrap = 200")
        if bootstrap == 1:
            raise InputError("[evaluate] bootstrap must be 0 (off) or at least 2 resamples, got 1.")
        patch = _integer(d.get("patch", 0), "[evaluate] patch", 0, "patch = 64")
        return cls(components(_as_list(d.get("distortions", ["mse"]), "[evaluate] distortions"), "[evaluate] distortions"),
                   perception, divergences, components(d.get("critics", []), "[evaluate] critics"), samples, bootstrap, patch)

    def identity(self) -> dict[str, Any]:
        return {"distortions": [str(c) for c in self.distortions], "perception": str(self.perception),
                "divergences": [str(c) for c in self.divergences], "critics": [str(c) for c in self.critics],
                "samples": self.samples, "bootstrap": self.bootstrap,
                **({"patch": self.patch} if self.patch else {})}  # absent when off: stores written before it keep their keys

    @classmethod
    def from_identity(cls, d: Mapping[str, Any]) -> EvaluateConfig:
        return cls.from_dict(d)

    def perception_kind(self, registry: Registry) -> str:
        """``divergence`` or ``critic``: what `perception` names."""
        try:
            registry.info("divergence", self.perception.name)
            return "divergence"
        except UnknownNameError:
            try:
                registry.info("critic", self.perception.name)
            except UnknownNameError:
                raise UnknownNameError(f"[evaluate] perception {self.perception.name!r} is neither a registered divergence nor a critic; "
                                       "`rdpkit list divergence` and `rdpkit list critic` show what is installed.") from None
            return "critic"


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
        if not isinstance(codecs, list):
            raise InputError(f"codec must be a list of [[codec]] tables, got {codecs!r}.")
        seeds = tuple(_as_list(head.get("seeds", [0]), "[sweep] seeds"))
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise InputError(f"[sweep] seeds must be non-negative integers, got {list(seeds)}.")
        threads = _integer(head.get("threads", 1), "[sweep] threads", 1, "threads = 1")
        from ..validation import check_device

        device = head.get("device", "auto")
        device = check_device(device) if isinstance(device, str) else check_device(str(device))
        name = head.get("name", "sweep")
        if not isinstance(name, str) or not name:
            raise InputError(f"[sweep] name must be text, got {name!r}.")
        return cls(
            name=name,
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
        return cls.from_toml_text(text, str(path))

    @classmethod
    def from_toml_text(cls, text: str, where: str = "the sweep file") -> SweepConfig:
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{where!r} is not valid TOML ({exc}); fix that line.") from None

    def validate(self, registry: Registry) -> None:
        """Raise one InputError sentence for anything that would make a trial fail before it trains."""
        from .measure import measures

        ev = self.evaluate
        side = self.data.side()
        if ev.patch > side:
            raise InputError(f"[evaluate] patch = {ev.patch} is larger than the sweep's {side}×{side} images; use a smaller patch or raise [data] size.")
        try:
            meter = measures(ev, registry).check(registry)  # names, options, weights and critics that need training: as evaluate checks them
        except InputError as exc:
            raise InputError(f"{exc} (in the sweep's [evaluate] table)") from None
        meter.check_side(side, these=f"the sweep's are {side}×{side}", fix="drop it from [evaluate] or raise [data] size")
        for c in self.codecs:
            for setting in c.settings(registry):
                try:
                    codec = setting.create("codec", registry)
                except InputError as exc:
                    raise InputError(f"{exc} (in the sweep's [[codec]] {c.label!r})") from None
                except RdpkitError as exc:
                    raise InputError(f"codec {c.name!r} refuses options {setting.options}: {exc}") from None
            info = registry.info("codec", c.name)
            if c.fit and not codec.learnable:
                raise InputError(f"codec {c.name!r} ({info.distribution}) is not learnable, so it takes no fit options; remove them from its [[codec]] table.")
            if codec.learnable:
                if self.data.split[0] == 0:
                    raise InputError(f"codec {c.name!r} learns from the training split, but [data] split gives it none; give the first fraction a positive share.")
                check_fit_options(codec, c.fit)
            if side < codec.min_size:
                raise InputError(f"codec {c.name!r} needs images of at least {codec.min_size}×{codec.min_size}, but the sweep's are {side}×{side}; raise [data] size.")
        self.data.check_images()  # every image read once, after the cheap checks and before any trial


def codec_class(registry: Registry, name: str) -> Any:
    """The class a codec's factory builds (to read what it declares), without creating one."""
    from ..interfaces import Codec

    info = registry.info("codec", name)
    factory = registry.factory(info)
    return factory if isinstance(factory, type) and issubclass(factory, Codec) else Codec


def check_fit_options(codec: Any, fit: Mapping[str, Any]) -> None:
    import inspect

    params = inspect.signature(codec.fit).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][1:]  # after `data`
    for key in fit:
        if key not in accepted:
            hint = suggestion(key, accepted) or f"it accepts {', '.join(accepted)}"
            raise InputError(f"fit() of codec {codec.codec_name!r} has no option {key!r}; {hint}.")
