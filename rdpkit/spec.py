"""The records that plugins hand to the registry, and what the registry knows of each.

A plugin's hook returns `Spec` records. Their factories run only when somebody asks for the
object, so listing what is installed imports nothing heavy. The registry turns each spec
into an `Info`, which adds where it came from (plugin, distribution, version); every object
the registry creates carries its `Info` as `.info`, and every result the harness stores
records it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("distortion", "divergence", "codec", "critic", "features")
#: What plugins can register besides components: sweep presets (rdpkit sweep --preset NAME).
PRESET = "preset"
#: ... and dataset layouts: prefix loaders (``kodak:PATH``) that check a downloaded dataset's folder.
LAYOUT = "layout"
#: The distribution whose names no plugin can take over (presets and users' configs rely on them).
RESERVED_DISTRIBUTION = "rdpkit"
NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")


@dataclass(frozen=True)
class Spec:
    """One registrable component, as a plugin describes it.

    `factory` is a callable, or a ``"module:attribute"`` string imported on first use;
    calling it with the user's options returns the object. Names are unique, lower-case and
    dash-separated (``ms-ssim``, ``lpips-alex``, ``wasserstein-sliced``).
    """

    name: str
    factory: Callable[..., Any] | str
    summary: str = ""
    differentiable: bool = False
    needs_weights: bool = False
    weights: str = ""  # where pretrained weights come from, when needs_weights
    default_device: str = "cpu"
    citation: str = ""
    #: For a distortion that is 1 − a similarity index: the index's column name in codec papers'
    #: result files (MS-SSIM → ``ms-ssim-rgb``), under which `rdpkit evaluate` reports the index itself.
    similarity: str = ""

    def problem(self) -> str | None:
        """Why this spec cannot be registered, or None."""
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            return f"name {self.name!r} is not lower-case and dash-separated (like 'ms-ssim')"
        if not (callable(self.factory) or (isinstance(self.factory, str) and ":" in self.factory)):
            return f"factory of {self.name!r} must be a callable or a 'module:attribute' string, got {self.factory!r}"
        return None


@dataclass(frozen=True)
class Info:
    """A registered component: its spec's metadata plus its provenance."""

    kind: str
    name: str
    summary: str
    differentiable: bool
    needs_weights: bool
    weights: str
    default_device: str
    citation: str
    plugin: str
    distribution: str
    version: str
    similarity: str = ""
    factory: Callable[..., Any] | str = field(repr=False, compare=False, default="")

    @classmethod
    def from_spec(cls, kind: str, spec: Spec, *, plugin: str, distribution: str, version: str) -> Info:
        return cls(
            kind=kind,
            name=spec.name,
            summary=spec.summary,
            differentiable=spec.differentiable,
            needs_weights=spec.needs_weights,
            weights=spec.weights,
            default_device=spec.default_device,
            citation=spec.citation,
            plugin=plugin,
            distribution=distribution,
            version=version,
            similarity=spec.similarity,
            factory=spec.factory,
        )

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("factory")
        d["qualified_name"] = self.qualified_name
        return d


def component_name(obj: Any) -> str:
    """The name of a component: the registered name the registry gave it when it built it, else (built directly) its class's name."""
    info = getattr(obj, "info", None)
    return info.name if info is not None else type(obj).__name__
