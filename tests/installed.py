"""Installing a test module as an rdpkit plugin, as pip would: for the tests of plugin discovery, sweeps and presets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rdpkit

TESTS = Path(__file__).parent


def install_plugin(monkeypatch: pytest.MonkeyPatch, site: Path, distribution: str, entry_point: str, module: str) -> Path:
    """Make the test module `module` an installed `rdpkit` plugin of `distribution`, exactly as pip would
    (a dist-info folder), for this process, its spawned workers and its subprocesses (and Ray's)."""
    dist = site / f"{distribution.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\nLicense: MIT\n")
    (dist / "entry_points.txt").write_text(f"[rdpkit]\n{entry_point} = {module}\n")
    monkeypatch.syspath_prepend(str(site))
    paths = [str(site), str(TESTS), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))
    monkeypatch.setattr(rdpkit.registry, "_default", None)
    return site
