"""Sweep presets: `rdpkit sweep --preset NAME`.

Presets are registered by plugins through the ``rdpkit_sweep_presets`` hook, beside the
codecs they run: the digits presets of Blau & Michaeli's experiment ship with the gan codec
(rdpkit-gan-codec), so a preset never names a codec that is not installed.
"""

from __future__ import annotations

from ..registry import Registry, get_registry
from .config import SweepConfig


def preset(name: str, registry: Registry | None = None) -> SweepConfig:
    """The registered sweep preset called `name` (unknown names get the closest ones suggested)."""
    return SweepConfig.from_dict((registry or get_registry()).sweep_preset(name))


def presets(registry: Registry | None = None) -> list[str]:
    """The names of the registered presets."""
    return (registry or get_registry()).names("preset")
