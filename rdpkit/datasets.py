"""The evaluation sets of codec papers, as users download them, and the offline stand-in.

    dataset("kodak:~/data/kodak")          # kodim01.png … kodim24.png (768×512 or 512×768)
    dataset("clic2020:~/data/clic/valid")   # CLIC 2020 professional and/or mobile, valid or test
    dataset("div2k:~/data/DIV2K_valid_HR")  # 0801.png … 0900.png (or the 800 training images)
    dataset("builtin:held-out")             # the photographs that ship with scikit-image and scikit-learn

A folder that is missing, or that lacks images the layout requires, is refused in one
sentence naming what is missing; any other image source of rdpkit.data (a folder, a file,
``builtin:NAME,...``) is a dataset too, taken as it is. Layouts are registered through the
``rdpkit_dataset_layouts`` hook (rdpkit's own: kodak, clic2020, div2k), so a plugin adds
``mydata:PATH`` by returning a Spec whose factory reads the folder into a `Dataset`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .data import IMAGE_SUFFIXES, Source, load_image
from .errors import InputError, PluginError, suggestion
from .spec import LAYOUT, RESERVED_DISTRIBUTION

if TYPE_CHECKING:
    from .registry import Registry

T = TypeVar("T")

#: The sizes (width, height) of the Kodak images: landscape and portrait.
KODAK_SIZES = ((768, 512), (512, 768))
#: How many images each known CLIC 2020 split holds (professional and mobile tracks).
CLIC_2020 = {("professional", "valid"): 41, ("mobile", "valid"): 61, ("professional", "test"): 250, ("mobile", "test"): 178}


@dataclass(frozen=True)
class Dataset:
    """A named list of images (``builtin:NAME`` references or file paths)."""

    name: str
    images: tuple[str, ...]
    spec: str
    location: str = ""  # the folder a layout read (``kodak:PATH`` → PATH); empty: `spec` is an image source itself
    stored: str = ""  # the identity a store holds, for a dataset read back from it (its files may be gone)

    def source(self) -> Source:
        return Source.parse(self.location or self.spec)

    def identity(self) -> str:
        """The dataset plus a digest of its files' bytes (a changed file makes new trials)."""
        return self.stored or f"{self.name}|{self.source().identity()}"

    @classmethod
    def from_identity(cls, identity: str) -> Dataset:
        """The dataset a stored identity names (its images are those its results list)."""
        name = identity.partition("|")[0]
        return cls(name, (), name, stored=identity)


def _folder(text: str, layout: str) -> Path:
    folder = Path(text).expanduser()
    if not text:
        raise InputError(f"{layout} needs its folder after the colon, e.g. {layout}:~/data/{layout}.")
    if not folder.is_dir():
        raise InputError(f"the {layout} folder {text!r} does not exist; download the dataset and give the folder that holds its PNG files.")
    return folder


def _images(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}


def _kodak_hint(folder: Path, found: dict[str, Path]) -> str:
    """Where the Kodak images are when not where asked: named in capitals (``KODIM01.PNG``), or in a folder below; or ``""``."""
    capitals = sorted(n for n in found if n.lower().startswith("kodim") and n != n.lower())
    if capitals:
        return f", but it holds {capitals[0]} …: rename the files in lower case (kodim01.png)"
    below = sorted(d for d in folder.iterdir() if d.is_dir() and any(n.lower() == "kodim01.png" for n in _images(d)))
    if below:
        return f", but {str(below[0])!r} below it holds them: give kodak:{below[0]}"
    return ""


def kodak(text: str) -> Dataset:
    """The Kodak set: kodim01.png … kodim24.png, all 24 of them, each 768×512 or 512×768 (read from the headers)."""
    from PIL import Image

    folder = _folder(text, "kodak")
    found = _images(folder)
    expected = [f"kodim{i:02d}.png" for i in range(1, 25)]
    missing = [name for name in expected if name not in found]
    if missing:
        raise InputError(f"the kodak folder {text!r} lacks {len(missing)} of its 24 images (first {missing[0]}); the set is kodim01.png … kodim24.png"
                         f"{_kodak_hint(folder, found)}.")
    for name in expected:
        try:
            with Image.open(found[name]) as im:
                size = im.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise InputError(f"cannot read {name} of the kodak folder {text!r} as an image ({exc}); download the Kodak set again.") from None
        if size not in KODAK_SIZES:
            raise InputError(f"{name} in the kodak folder {text!r} is {size[0]}×{size[1]}, but every Kodak image is 768×512 or 512×768; "
                             "this is not the Kodak set: give it as a plain folder.")
    return Dataset("kodak", tuple(str(found[n]) for n in expected), f"kodak:{text}", text)


def clic2020(text: str) -> Dataset:
    """CLIC 2020: a split folder of PNGs (``valid/``), or the track/split folders above it (``professional/valid``...)."""
    folder = _folder(text, "clic2020")
    splits = [folder] if _images(folder) else [d for d in sorted(folder.glob("*/*")) if d.is_dir() and _images(d)]
    if not splits:
        raise InputError(f"the clic2020 folder {text!r} holds no PNG files, neither itself nor in professional/valid, mobile/valid, ...; give the folder the CLIC archive extracted to.")
    images: list[str] = []
    for split in splits:
        files = sorted(_images(split).values())
        track = next((t for t in ("professional", "mobile") if t in split.parts), None)
        part = next((s for s in ("valid", "test") if s in split.name), None)
        expected = CLIC_2020.get((track, part)) if track and part else None
        if expected is not None and len(files) != expected:
            raise InputError(f"{str(split)!r} holds {len(files)} images, but CLIC 2020 {track} {part} has {expected}; the download is incomplete.")
        images += [str(f) for f in files]
    return Dataset("clic2020", tuple(images), f"clic2020:{text}", text)


def div2k(text: str) -> Dataset:
    """DIV2K's high-resolution images: the validation set 0801–0900 or the training set 0001–0800."""
    folder = _folder(text, "div2k")
    found = _images(folder)
    numbers = sorted(int(Path(n).stem) for n in found if Path(n).stem.isdigit() and len(Path(n).stem) == 4)
    if not numbers:
        raise InputError(f"the div2k folder {text!r} holds no images named like 0801.png; give DIV2K_valid_HR or DIV2K_train_HR.")
    first, last = (801, 900) if numbers[0] >= 801 else (1, 800)
    missing = [f"{i:04d}.png" for i in range(first, last + 1) if f"{i:04d}.png" not in found]
    if missing:
        raise InputError(f"the div2k folder {text!r} lacks {len(missing)} of the {last - first + 1} images {first:04d}–{last:04d} (first {missing[0]}); the download is incomplete.")
    return Dataset("div2k", tuple(str(found[f"{i:04d}.png"]) for i in range(first, last + 1)), f"div2k:{text}", text)


class SkippedImage(UserWarning):
    """A file of a dataset that cannot be read as an image, left out of the run (the message names it and says why)."""


def readable(images: Sequence[str], name: str, read: Callable[[str], T], *, warn: bool = True) -> tuple[dict[str, T], dict[str, str]]:
    """Every one of `images` read once by `read` (a `load_image` call), before any work: what it gave for each image that
    reads, and why each one that does not is left out.

    A file that does not read (damaged, no image, a decompression bomb, a folder or a link loop named like an image) is
    left out with a `SkippedImage` warning that names it and says why (`warn=False`: said already, by the check before
    the work); when none reads, one sentence.
    """
    kept: dict[str, T] = {}
    skipped: dict[str, str] = {}
    for image in images:
        try:
            kept[image] = read(image)
        except InputError as exc:
            skipped[image] = str(exc)
            if warn:
                warnings.warn(f"skipping {Path(image).name} of {name}: {exc}", SkippedImage, stacklevel=3)
    if not kept:
        why = next(iter(skipped.values()), "there are none")
        raise InputError(f"none of the {len(skipped)} image(s) of {name} can be read; the first: {why}")
    return kept, skipped


def check_images(ds: Dataset) -> tuple[Dataset, list[tuple[int, int]], dict[str, str]]:
    """Every image of `ds` read once, before any work (`readable`): the dataset of those that read, their (height, width), and each one left out with why.

    Files of more pixels than rdpkit's decoders make by default are left out too (`load_image(codable=True)`).
    """
    kept, skipped = readable(ds.images, ds.name, lambda image: tuple(load_image(image, codable=True).shape[-2:]))
    return replace(ds, images=tuple(kept)), list(kept.values()), skipped  # type: ignore[arg-type]


def dataset(spec: str, registry: Registry | None = None) -> Dataset:
    """A dataset by its registered layout and folder (``kodak:PATH``, ``clic2020:PATH``, a plugin's ``NAME:PATH``), or any image source."""
    from .registry import get_registry

    registry = registry or get_registry()
    layouts = registry.names(LAYOUT)
    layout, sep, rest = spec.partition(":")
    if sep and layout in layouts:
        info = registry.info(LAYOUT, layout)
        found = registry.factory(info)(rest)
        if not isinstance(found, Dataset) and info.distribution == RESERVED_DISTRIBUTION:
            raise InputError(f"{layout!r} is a set of human judgments, not of photographs to code; score metrics on it with "
                             f"`rdpkit judge --data {spec}`, and evaluate codecs on kodak:PATH, clic2020:PATH, div2k:PATH, builtin or a folder.")
        if not isinstance(found, Dataset):
            raise PluginError(f"the dataset layout {layout!r} ({info.distribution} {info.version}) returned {type(found).__name__}, not a Dataset; its plugin is broken.")
        return found
    if sep and layout not in ("builtin",) and not Path(spec).exists() and len(layout) > 1:
        hint = suggestion(layout, layouts)
        if hint:
            raise InputError(f"unknown dataset layout {layout!r}; {hint}")
    source = Source.parse(spec)
    if source.kind == "digits":
        raise InputError("the digits are 8×8 drawings, not photographs; evaluate codecs on kodak:PATH, clic2020:PATH, div2k:PATH, builtin or a folder.")
    # A folder or file is named by its resolved path, so that `ds`, `./ds/` and its absolute path are one dataset (and no folder passes for a layout).
    name = source.text.replace(":", "-") if source.kind == "builtin" else str(Path(source.text).expanduser().resolve())
    return Dataset(name, tuple(source.references()), spec)
