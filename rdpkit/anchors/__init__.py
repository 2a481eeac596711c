"""Rate-distortion results in CompressAI's JSON format: read, written, and published anchors bundled with rdpkit.

A result file is ``{"name", "description", "results": {measure: [one value per rate point]}}``
(CompressAI's results/image/<dataset>/ files; some add a ``meta`` table). The measures are
named as CompressAI names them: ``bpp``, ``psnr-rgb``, ``ms-ssim-rgb``, ``ms-ssim-db-rgb``,
``encoding_time``, ``decoding_time``; rdpkit adds its own metrics under their names
(``lpips-alex``, ``fid``...). Files differ in which measures they hold; `ResultFile.curve`
derives MS-SSIM in dB from MS-SSIM and back when only one is present.

`published("vtm")` reads one of CompressAI's 50 published Kodak result files (named
``published:`` and their file stem, since several share a codec name), which ship with
rdpkit (BSD 3-Clause Clear, InterDigital: kodak/LICENSE-CompressAI): conventional codecs (jpeg,
jpeg2000, webp, bpg_444_x265_ycbcr, av1, hm, vtm), CompressAI's re-trained learned codecs,
and the curves of the papers (``paper-*``).

A curve carries the dataset it was measured on (`ResultFile.dataset`: ``kodak`` for the
bundled files, meta ``dataset`` for rdpkit's own, unknown for other files) and says how its
rate was counted (`ResultFile.counts_container`): CompressAI's files count bare codec files,
rdpkit's ``bpp`` counts its container and ``payload_bpp`` the bare payload. Files are
bounded (`MAX_BYTES`) and checked before use: a hostile file is one sentence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, suggestion

FOLDER = Path(__file__).parent
DATASETS = ("kodak",)
#: Short names users write, and the measure CompressAI's files use for each.
ALIASES = {"psnr": "psnr-rgb", "ms-ssim": "ms-ssim-rgb", "ms-ssim-db": "ms-ssim-db-rgb"}
#: The largest result file read (the bundled ones hold under 3 kB; rdpkit's own a few kB per rate point).
MAX_BYTES = 4 * 2**20
#: CompressAI's format: its quality measures where higher is better, and its columns that are no quality axis.
HIGHER_IS_BETTER = ("psnr-rgb", "ms-ssim-rgb", "ms-ssim-db-rgb")
NOT_AXES = ("bpp", "payload_bpp", "bytes", "encoding_time", "decoding_time")
#: The range a measure's values must lie in to be what its name says.
RANGES = {"ms-ssim-rgb": (0.0, 1.0)}


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in decibels, −10·log10(1 − MS-SSIM), as codec papers plot it."""
    return -10 * math.log10(1 - value) if value < 1 else math.inf


@dataclass(frozen=True)
class ResultFile:
    """One codec's rate-distortion points, as a CompressAI result file holds them."""

    name: str
    description: str
    results: dict[str, list[float]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def measures(self) -> list[str]:
        """The measures the file holds, plus those derived from them (MS-SSIM in dB from MS-SSIM and back)."""
        names = list(self.results)
        if "ms-ssim-rgb" in names and "ms-ssim-db-rgb" not in names:
            names.append("ms-ssim-db-rgb")
        if "ms-ssim-db-rgb" in names and "ms-ssim-rgb" not in names:
            names.append("ms-ssim-rgb")
        return names

    @property
    def axes(self) -> list[str]:
        """The measures that are quality axes (not the rate, sizes or times)."""
        return [m for m in self.measures if m not in NOT_AXES]

    @property
    def dataset(self) -> str:
        """The dataset the curve was measured on (``kodak``...), or ``""`` when the file does not say."""
        return str(self.meta.get("dataset", ""))

    @property
    def counts_container(self) -> bool:
        """Whether ``bpp`` counts rdpkit's container (rdpkit's own results) rather than bare codec files (CompressAI's)."""
        return self.meta.get("source") == "rdpkit"

    def rate(self, payload: bool) -> tuple[np.ndarray | None, str]:
        """The bits per pixel of the bare codec files (`payload`) or as the file counts them, and which: None when the file cannot tell."""
        if not self.counts_container:
            return self.values("bpp"), "file bpp"
        if payload:
            return (self.values("payload_bpp") if "payload_bpp" in self.results else None), "payload bpp"
        return self.values("bpp"), "container bpp"

    def higher_is_better(self, measure: str) -> bool:
        """Which way `measure` reads: as rdpkit declared it when it wrote the file (meta ``higher_is_better``), else as CompressAI's format does."""
        return measure in self.meta.get("higher_is_better", HIGHER_IS_BETTER)

    def values(self, measure: str) -> np.ndarray:
        """One measure's values, one per rate point (aliases and derived measures included)."""
        measure = ALIASES.get(measure, measure)
        if measure in self.results:
            return np.asarray(self.results[measure], dtype=np.float64)
        if measure == "ms-ssim-db-rgb" and "ms-ssim-rgb" in self.results:
            return np.asarray([ms_ssim_db(v) for v in self.results["ms-ssim-rgb"]])
        if measure == "ms-ssim-rgb" and "ms-ssim-db-rgb" in self.results:
            with np.errstate(over="ignore"):  # a negative dB value (no MS-SSIM has one) gives −inf, which the BD table refuses
                return 1 - 10 ** (-np.asarray(self.results["ms-ssim-db-rgb"], dtype=np.float64) / 10)
        hint = suggestion(measure, self.measures) or f"it holds {', '.join(self.measures)}"
        raise InputError(f"the results of {self.name!r} hold no {measure!r}; {hint}.")

    def curve(self, measure: str) -> tuple[np.ndarray, np.ndarray]:
        """(bits per pixel, the measure) at every rate point."""
        return self.values("bpp"), self.values(measure)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, **({"meta": self.meta} if self.meta else {}), "results": self.results}

    def write(self, path: str | Path, *, protect: Sequence[str | Path] = ()) -> Path:
        from ..report import write_text

        return write_text(path, json.dumps(self.as_dict(), indent=2), protect=protect)


def read(path: str | Path) -> ResultFile:
    """A result file in CompressAI's format, checked: one sentence when it is not one (or larger than `MAX_BYTES`)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the result file {str(path)!r} ({exc.strerror}); give a JSON file in CompressAI's results format.") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"the result file {str(path)!r} is larger than {MAX_BYTES // 2**20} MiB, far more than a rate-distortion curve holds; give a file in CompressAI's results format.")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InputError(f"{str(path)!r} nests JSON too deeply to be a result file; give a file in CompressAI's results format.") from None
    except ValueError as exc:
        raise InputError(f"{str(path)!r} is not valid JSON ({exc}); give a file in CompressAI's results format.") from None
    return from_dict(data, str(path))


def from_dict(data: Any, where: str = "the result file") -> ResultFile:
    """A result file from its JSON document, checked; CompressAI's older keys (``psnr``, ``ms-ssim``) read as the current ones."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError(f"{where} is not in CompressAI's results format: it needs a 'results' table of per-rate lists, e.g. {{\"name\": ..., \"results\": {{\"bpp\": [...], \"psnr-rgb\": [...]}}}}.")
    results: dict[str, list[float]] = {}
    lengths = set()
    for key, values in data["results"].items():
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise InputError(f"{where}: results[{key!r}] must be a list of numbers, one per rate point, got {str(values)[:60]}.")
        name = ALIASES.get(key, key) if ALIASES.get(key) not in data["results"] else key
        results[name] = [float(v) for v in values]
        lengths.add(len(values))
    if "bpp" not in results:
        raise InputError(f"{where} has no 'bpp' list, so it gives no rate; add one value per rate point.")
    if len(lengths) > 1:
        raise InputError(f"{where}: the lists of results have different lengths ({sorted(lengths)}); give one value per rate point in each.")
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputError(f"{where}: 'meta' must be a table of names and values, got {str(meta)[:60]}.")
    higher = meta.get("higher_is_better", [])
    if not isinstance(higher, list) or not all(isinstance(m, str) for m in higher) or not isinstance(meta.get("dataset", ""), str):
        raise InputError(f"{where}: meta 'higher_is_better' must be a list of measure names and meta 'dataset' a name.")
    return ResultFile(str(data.get("name", Path(where).stem))[:200], str(data.get("description", ""))[:1000], results, dict(meta))


def published_names(dataset: str = "kodak") -> list[str]:
    """The published result files bundled for `dataset` (file stems: ``vtm``, ``jpeg``, ``compressai-mbt2018-mean_mse_cpu``...)."""
    if dataset not in DATASETS:
        raise InputError(f"rdpkit bundles published results for {', '.join(DATASETS)}, not {dataset!r}.")
    return sorted(p.stem for p in (FOLDER / dataset).glob("*.json"))


def published(name: str, dataset: str = "kodak") -> ResultFile:
    """A published result file bundled with rdpkit, by its stem (see `published_names`)."""
    names = published_names(dataset)
    if name not in names:
        raise InputError(f"no published {dataset} result is called {name!r}; {suggestion(name, names) or 'the names are ' + ', '.join(names)}.")
    found = read(FOLDER / dataset / f"{name}.json")
    # Several published files carry one codec name (CPU and CUDA runs, MSE- and MS-SSIM-trained models): the file's stem tells them apart.
    return replace(found, name=f"published:{name}", description=f"{found.name}: {found.description}".strip(": "), meta={**found.meta, "dataset": dataset})


def anchor(text: str) -> ResultFile:
    """An anchor curve: ``published:NAME`` (``published:vtm``), or the path of a result file."""
    kind, sep, rest = text.partition(":")
    return published(rest) if sep and kind == "published" else read(text)
