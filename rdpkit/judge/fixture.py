"""Stand-ins for the judgment sets, made offline: every file name of the real dataset, small images.

    folder = make_fixture("tid2013", tmp_path)   # tmp_path/TID2013/distorted_images/i01_01_1.bmp ...
    judgments(f"tid2013:{folder}")               # loads like the download: 3,000 items, 25 references

For a rated set the file names, types and scores come from its real label file; references are
crops of rdpkit's built-in photographs and each distorted image is its reference degraded
(`rdpkit.degrade`) by a degradation named by the label's type (noise → Gaussian noise, blur →
blur, JPEG/JPEG 2000/compression → JPEG, contrast → contrast, anything else → blur), as strongly
as its score is bad among the set's scores, so that even a plain metric agrees with the scores
somewhat. BAPPS gets the LPIPS layout with ``.npy`` judgments consistent with the degradations.
Files are written in the format their suffix names (BMP, PNG, JPEG). Used by the tests and the
benchmarks; nothing here is a real dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data import builtin_names, load_image, to_numpy
from ..degrade import degrade
from ..errors import InputError, suggestion
from .datasets import (
    BAPPS_2AFC_COUNTS,
    BAPPS_JND_SUBSETS,
    LAYOUTS,
    Bapps2AFCLayout,
    RatedLayout,
)

#: Pairs per BAPPS JND subset in a fixture without a limit (the LPIPS README gives "4.8k" for each).
JND_PAIRS = 4800
FORMATS = {".bmp": "BMP", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


class _Patches:
    """Distinct size×size crops of the built-in photographs: patch i is photograph i mod n at an offset set by i div n."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.photos = [load_image(f"builtin:{name}", size=2 * size) for name in builtin_names()]

    def __getitem__(self, i: int) -> torch.Tensor:
        photo = self.photos[i % len(self.photos)]
        step = i // len(self.photos)
        top, left = (step * 7) % (self.size + 1), (step * 3 + step // (self.size + 1)) % (self.size + 1)
        return photo[..., top : top + self.size, left : left + self.size].contiguous()


def degradation(kind: str, badness: float) -> str:
    """The `rdpkit.degrade` spec standing in for a label's distortion type, `badness` in [0, 1] setting its strength."""
    k = kind.lower()
    if "noise" in k or "awgn" in k or k == "wn":
        return f"gaussian:{0.01 + 0.25 * badness:.4f}"
    if "blur" in k:
        return f"blur:{0.3 + 2.7 * badness:.4f}"
    if any(word in k for word in ("jpeg", "jp2k", "compression", "fastfading")):
        return f"jpeg:{round(90 - 85 * badness)}"
    if "contrast" in k:
        return f"contrast:{1 - 0.8 * badness:.4f}"
    return f"blur:{0.3 + 2.7 * badness:.4f}"


def _save(x: torch.Tensor, path: Path) -> None:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"the fixture cannot write {path.name!r}: its suffix is none of {', '.join(FORMATS)}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_numpy(x)).save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def _rated(layout: RatedLayout, folder: Path, patches: _Patches, limit: int | None, seed: int) -> Path:
    every = layout.labels()
    scores = np.array([label.score for label in every])
    rank = scores.argsort().argsort() / max(len(scores) - 1, 1)  # 0: the lowest score
    badness = 1 - rank if layout.higher_is_better else rank
    labels = every[:limit]
    references: dict[str, torch.Tensor] = {}
    for i, label in enumerate(labels):
        if label.reference is not None and label.reference not in references:
            references[label.reference] = patches[len(references)]
            _save(references[label.reference], folder / label.reference)
        source = references[label.reference] if label.reference is not None else patches[i]
        _save(degrade(source, degradation(label.kind, float(badness[i])), seed=seed + i), folder / label.image)
    return folder / labels[0].image.partition("/")[0]


def _shares(values: np.ndarray, judges: int) -> np.ndarray:
    return np.round(np.clip(values, 0, 1) * judges) / judges


def _bapps_2afc(folder: Path, patches: _Patches, limit: int | None, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    split = folder / "dataset" / "2afc" / "val"
    start = 0
    for subset, count in BAPPS_2AFC_COUNTS.items():
        n = min(count, limit or count)
        bad = rng.uniform(0, 1, size=(n, 2))
        judge = _shares(0.5 + bad[:, 0] - bad[:, 1], 5)  # the share preferring p1: more when p0 is the worse
        for i in range(n):
            ref = patches[start + i]
            stem = f"{i:06d}"
            kind = ("noise", "blur", "jpeg")[i % 3]
            _save(ref, split / subset / "ref" / f"{stem}.png")
            _save(degrade(ref, degradation(kind, float(bad[i, 0])), seed=seed + 2 * i), split / subset / "p0" / f"{stem}.png")
            _save(degrade(ref, degradation(kind, float(bad[i, 1])), seed=seed + 2 * i + 1), split / subset / "p1" / f"{stem}.png")
            _npy(judge[i], split / subset / "judge" / f"{stem}.npy")
        start += n
    return folder / "dataset"


def _bapps_jnd(folder: Path, patches: _Patches, limit: int | None, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    split = folder / "dataset" / "jnd" / "val"
    start = 0
    for subset in BAPPS_JND_SUBSETS:
        n = min(JND_PAIRS, limit or JND_PAIRS)
        bad = rng.uniform(0, 1, size=n)
        same = _shares(1 - 2 * bad, 3)  # the share seeing no difference: fewer the stronger the degradation
        for i in range(n):
            ref = patches[start + i]
            stem = f"{i:06d}"
            _save(ref, split / subset / "p0" / f"{stem}.png")
            _save(degrade(ref, degradation(("noise", "blur", "jpeg")[i % 3], float(bad[i])), seed=seed + i), split / subset / "p1" / f"{stem}.png")
            _npy(same[i], split / subset / "same" / f"{stem}.npy")
        start += n
    return folder / "dataset"


def _npy(value: float, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array([value]))


def make_fixture(layout: str, folder: str | Path, *, size: int = 32, limit: int | None = None, seed: int = 0) -> Path:
    """Write a stand-in of the `layout` download under `folder`; return the folder a user would give (``folder/TID2013``).

    Every file the label file names is written, or, with `limit`, its first `limit` items and
    their references (for BAPPS: the first `limit` of each subset). Images are `size`×`size`.
    """
    if layout not in LAYOUTS:
        hint = suggestion(layout, LAYOUTS) or f"the judgment layouts are {', '.join(LAYOUTS)}"
        raise InputError(f"unknown judgment layout {layout!r}; {hint}")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1 (or None for the whole set), got {limit}.")
    if size < 8:
        raise InputError(f"fixture images must be at least 8 pixels on a side, got {size}.")
    kind = LAYOUTS[layout]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # images this small only wait for other threads (20× slower on a busy machine)
    try:
        patches = _Patches(size)
        if isinstance(kind, RatedLayout):
            return _rated(kind, Path(folder), patches, limit, seed)
        write = _bapps_2afc if isinstance(kind, Bapps2AFCLayout) else _bapps_jnd
        return write(Path(folder), patches, limit, seed)
    finally:
        torch.set_num_threads(threads)

