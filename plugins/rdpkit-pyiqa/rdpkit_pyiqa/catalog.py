"""What pyiqa offers, read from its static model table without importing pyiqa.

``import pyiqa`` takes seconds (it imports every architecture, torchvision, timm and more),
and `rdpkit list` must stay instant. pyiqa keeps the names, modes and ``lower_better`` flags
of all its metrics in one plain module, ``pyiqa/default_model_configs.py``, whose only import
is ``collections``; this module executes that file on its own, so the catalogue is always
the installed pyiqa's, and the test suite checks it against ``pyiqa.list_models()``.

Everything pyiqa's table does not say (how a score becomes a distortion, which metrics build
without downloaded weights, the smallest image size) is stated here, per metric, with the
reason; the plugin README explains each rule.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdpkit import PluginUnavailable

#: pyiqa's set-level metrics: they compare image folders, not images, so they are not per-image
#: distortions or critics (rdpkit's divergences cover distribution distances).
SET_LEVEL = frozenset({"fid", "sfid", "fid_dinov2", "inception_score"})

#: Metrics that build from code alone: no weights file, no backbone.
WEIGHT_FREE = frozenset({
    "ssim", "ssimc", "ms_ssim", "cw_ssim", "psnr", "psnry", "fsim", "vif", "gmsd", "nlpd", "vsi", "mad",
    "entropy", "piqe",
})

#: Bounded similarity indices equal to 1 at x̂ = x: Δ = max(0, 1 − s). VIF is not among them:
#: on a flat reference it is 0/0 (pyiqa returns 0), so it takes the offset transform, which
#: makes Δ(x, x) = 0 there too; its values above 1 (contrast enhancement) clamp to 0.
ONE_MINUS = frozenset({"ssim", "ssimc", "ms_ssim", "cw_ssim", "fsim", "vsi"})

#: Lower-is-better scores that are 0 at x̂ = x by construction (a distance between identical
#: features, pyramids or gradient maps): Δ = s as it is.
ZERO_AT_IDENTITY = frozenset({
    "gmsd", "nlpd", "mad", "msswd", "dists", "deepdc", "lpips", "lpips-vgg", "lpips+", "lpips-vgg+", "stlpips", "stlpips-vgg",
})

#: Metrics whose gradient is zero, missing or infinite: histograms, thresholded block statistics,
#: and MAD, whose HI^σ term has an infinite derivative wherever its high-quality index vanishes.
#: Every other weight-free metric was checked to back-propagate finite gradients.
NOT_DIFFERENTIABLE = frozenset({"mad", "entropy", "piqe", "niqe", "niqe_matlab", "ilniqe", "brisque", "brisque_matlab", "nrqm", "pi"})

#: Language-model scorers: they generate or compare token probabilities, not a loss to descend.
LANGUAGE_MODELS = ("qalign", "qrealign", "compare2score", "fgresq")

#: Smallest side at which each weight-free distortion gives finite values that see the damage,
#: measured by measure_min_size.py (next to this package; its docstring states the criteria).
#: Below it pyiqa raises (ssim, ssimc, vif, cw_ssim, ms_ssim: window size and pyramid depth), returns
#: NaN (gmsd at 2 and 3 px, fsim at 1 px), or returns 0 for clearly noisy images (vsi at 1 px;
#: mad, whose high-quality index finds no visible difference on small images).
MIN_SIZE = {
    "ssim": 11, "ssimc": 11, "ms_ssim": 161, "psnr": 1, "psnry": 1, "nlpd": 1, "mad": 79, "cw_ssim": 64,
    "gmsd": 4, "vif": 33, "fsim": 2, "vsi": 2,
}

#: Metrics that give wrong values on non-square images, so the plugin takes square ones only:
#: pyiqa's MAD builds its contrast sensitivity filter as cols×rows and reshapes it to rows×cols,
#: which scrambles it when the two differ (MAD is then 0 for σ = 0.2 noise at 96×103).
SQUARE_ONLY = frozenset({"mad"})

#: Metrics that also take one-channel images; the rest convert RGB (to Y or chroma) and need 3.
GRAY_OK = frozenset({"psnr", "psnry", "ssim", "ssimc", "vsi", "mad", "cw_ssim", "entropy", "piqe"})


@dataclass(frozen=True)
class Entry:
    """One pyiqa metric as rdpkit registers it."""

    pyiqa_name: str
    name: str
    mode: str  # "FR" (a distortion) or "NR" (a critic)
    lower_better: bool
    score_range: str
    transform: str  # "identity", "one-minus", "offset" (FR) or "identity", "negate" (NR)
    needs_weights: bool
    differentiable: bool
    min_size: int
    channels: tuple[int, ...]
    square_only: bool

    @property
    def kind(self) -> str:
        return "distortion" if self.mode == "FR" else "critic"

    @property
    def summary(self) -> str:
        how = {
            "identity": "pyiqa's score as it is",
            "one-minus": "1 − score, clamped at 0",
            "offset": f"{'score(x, x̂) − score(x, x)' if self.lower_better else 'score(x, x) − score(x, x̂)'}, clamped at 0",
            "negate": "minus pyiqa's score",
        }[self.transform]
        return f"pyiqa {self.pyiqa_name!r} ({'lower' if self.lower_better else 'higher'} is better in pyiqa, range {self.score_range}): {how}"


def rdpkit_name(pyiqa_name: str) -> str:
    """pyiqa's name in rdpkit's convention: ``pyiqa-`` prefix, lower case, '_' → '-', '+' → '-plus'."""
    name = pyiqa_name.lower().replace("_", "-").replace("+", "-plus-")
    return "pyiqa-" + "-".join(part for part in name.split("-") if part)


def _transform(pyiqa_name: str, mode: str, lower_better: bool) -> str:
    if mode == "NR":
        return "identity" if lower_better else "negate"
    if pyiqa_name in ONE_MINUS:
        return "one-minus"
    if pyiqa_name in ZERO_AT_IDENTITY:
        return "identity"
    return "offset"


def _differentiable(pyiqa_name: str) -> bool:
    return pyiqa_name not in NOT_DIFFERENTIABLE and not pyiqa_name.startswith(LANGUAGE_MODELS)


def _configs() -> dict[str, Any]:
    spec = importlib.util.find_spec("pyiqa")
    if spec is None or not spec.submodule_search_locations:
        raise PluginUnavailable("rdpkit-pyiqa needs the pyiqa package, which is not installed; install it with pip install pyiqa.")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_model_configs.py"
    table_spec = importlib.util.spec_from_file_location("_rdpkit_pyiqa_model_table", path)
    if table_spec is None or table_spec.loader is None or not path.is_file():
        raise PluginUnavailable(f"rdpkit-pyiqa cannot find pyiqa's model table at {path}; install a pyiqa version this plugin supports (pip install 'pyiqa>=0.1.13').")
    module = importlib.util.module_from_spec(table_spec)
    table_spec.loader.exec_module(module)
    return dict(module.DEFAULT_CONFIGS)


@functools.lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    """Every per-image pyiqa metric, in pyiqa's order."""
    out = []
    for pyiqa_name, cfg in _configs().items():
        mode = cfg.get("metric_mode")
        if pyiqa_name in SET_LEVEL or mode not in ("FR", "NR"):
            continue
        lower_better = bool(cfg.get("lower_better", False))
        out.append(Entry(
            pyiqa_name=pyiqa_name,
            name=rdpkit_name(pyiqa_name),
            mode=mode,
            lower_better=lower_better,
            score_range=str(cfg.get("score_range", "unknown")),
            transform=_transform(pyiqa_name, mode, lower_better),
            needs_weights=pyiqa_name not in WEIGHT_FREE,
            differentiable=_differentiable(pyiqa_name),
            min_size=MIN_SIZE.get(pyiqa_name, 0),
            channels=(1, 3) if pyiqa_name in GRAY_OK else (3,),
            square_only=pyiqa_name in SQUARE_ONLY,
        ))
    return tuple(out)


def entry(pyiqa_name: str) -> Entry:
    """The entry of one pyiqa metric; KeyError when pyiqa has no per-image metric of that name."""
    for e in entries():
        if e.pyiqa_name == pyiqa_name:
            return e
    raise KeyError(pyiqa_name)
