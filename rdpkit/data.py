"""Images and sample sets that need no network, as float tensors N×C×H×W in [0, 1].

Sources: the natural images that ship inside scikit-image and scikit-learn
(``builtin:astronaut``...), scikit-learn's 8×8 handwritten digits, and user files or folders of
PNG/JPEG images. `Source` is the one grammar for naming them (``digits``, ``builtin``,
``builtin:NAME,NAME``, a folder, a file), used by every command and sweep file.
Conversion from numpy and PIL is explicit: `to_tensor`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .bitstream import MAX_PIXELS
from .errors import InputError, suggestion
from .files import replacing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _skimage(name: str, index: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        out = getattr(skimage.data, name)()
        return out[index] if index is not None else out

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")

    return load


#: Natural photographs (and a few textures) that ship inside scikit-image and scikit-learn.
BUILTIN_IMAGES: dict[str, Callable[[], np.ndarray]] = {
    "china": _sklearn("china"),
    "flower": _sklearn("flower"),
    "astronaut": _skimage("astronaut"),
    "camera": _skimage("camera"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "coins": _skimage("coins"),
    "moon": _skimage("moon"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "hubble": _skimage("hubble_deep_field"),
    "motorcycle-left": _skimage("stereo_motorcycle", 0),
    "motorcycle-right": _skimage("stereo_motorcycle", 1),
    "retina": _skimage("retina"),
    "brick": _skimage("brick"),
    "grass": _skimage("grass"),
    "gravel": _skimage("gravel"),
    "cell": _skimage("cell"),
}


def builtin_names() -> list[str]:
    return sorted(BUILTIN_IMAGES)


def _pil_array(image: Image.Image) -> np.ndarray:
    """A PIL image as an array in its own bit depth: 16-bit files stay 16-bit (converting them to RGB would clip them to 255)."""
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":  # 32-bit integer mode, how Pillow opens some 16-bit files
        a = np.asarray(image)
        if a.size and (int(a.min()) < 0 or int(a.max()) > 65535):
            raise InputError(f"this {image.format or ''} image holds 32-bit integer values in [{int(a.min())}, {int(a.max())}]; save it with 8 or 16 bits per channel.")
        return a.astype(np.uint16)
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    return np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"))


def to_tensor(image: Any) -> torch.Tensor:
    """A numpy array (H×W or H×W×C; uint8, uint16, bool or float in [0, 1]) or PIL image → 1×C×H×W float32.

    Alpha channels are dropped. A torch tensor N×C×H×W or C×H×W is returned as float32 N×C×H×W.
    """
    if isinstance(image, torch.Tensor):
        t = image if image.ndim == 4 else image.unsqueeze(0) if image.ndim == 3 else None
        if t is None:
            raise InputError(f"a tensor image must be C×H×W or N×C×H×W, got shape {tuple(image.shape)}.")
        return t.float() / 255 if t.dtype == torch.uint8 else t.float()
    if isinstance(image, Image.Image):
        image = _pil_array(image)
    if not isinstance(image, np.ndarray):
        raise InputError(f"cannot convert {type(image).__name__} to an image tensor; pass a numpy array (H×W or H×W×C) or a PIL image.")
    a = image
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"an image array must be H×W or H×W×C with 1, 3 or 4 channels, got shape {image.shape}; transpose C×H×W arrays with a.transpose(1, 2, 0).")
    if a.shape[2] in (2, 4):  # drop alpha
        a = a[:, :, :-1]
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535
    elif np.issubdtype(a.dtype, np.floating):
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if not (lo >= 0 and hi <= 1):
            raise InputError(f"a float image array must have values in [0, 1], got [{lo:.4g}, {hi:.4g}]; rescale it first.")
        a = a.astype(np.float32)
    else:
        raise InputError(f"image arrays of dtype {a.dtype} are not supported; use uint8, uint16, bool or float in [0, 1].")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """The first image of a batch (or a C×H×W tensor) as an H×W×C uint8 array (H×W for gray)."""
    t = x[0] if x.ndim == 4 else x
    a = (t.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    return a[:, :, 0] if a.shape[2] == 1 else a


def save_png(x: torch.Tensor, path: str | Path) -> Path:
    """Write the first image of a batch as a PNG file, whole or not at all (`rdpkit.files.replacing`: a full disk is one sentence)."""
    path = Path(path)
    image = Image.fromarray(to_numpy(x))
    with replacing(path) as temporary:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(temporary, format="PNG")
    return path


def _fit(x: torch.Tensor, size: int | tuple[int, int] | None, mode: str) -> torch.Tensor:
    if size is None:
        return x
    th, tw = (size, size) if isinstance(size, int) else size
    if th < 1 or tw < 1:
        raise InputError(f"size must be positive, got {size}.")
    if mode not in ("resize", "crop"):
        raise InputError(f"mode must be 'resize' (scale, then centre-crop) or 'crop' (centre-crop at full resolution), got {mode!r}.")
    h, w = x.shape[-2:]
    if mode == "resize" or h < th or w < tw:
        scale = max(th / h, tw / w)
        nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
        x = torch.nn.functional.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
        h, w = nh, nw
    top, left = (h - th) // 2, (w - tw) // 2
    return x[..., top : top + th, left : left + tw].contiguous()


def _read_file(path: Path, codable: bool) -> torch.Tensor:
    """An image file as a 1×C×H×W tensor, or one sentence saying why it is none: a folder, a dangling link or a link
    loop, no image, a decompression bomb, more pixels than rdpkit's decoders make by default (with `codable`), a damaged file.
    Sizes are refused from the header, before any pixel is decoded."""
    source = str(path)
    if path.is_dir():
        raise InputError(f"{source!r} is a folder; give one image file here (or builtin:NAME), or use the folder where a source of several images is accepted.")
    if not path.is_file():
        if path.is_symlink():
            raise InputError(f"{source!r} is a symbolic link that leads to no file (a loop or a missing target); give the image file itself.")
        raise InputError(f"image file {source!r} does not exist; give a path to a PNG/JPEG file or builtin:NAME ({', '.join(builtin_names()[:4])}, ...).")
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice it, and would then decode every pixel: refused here from the header.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise InputError(f"{source!r} announces more than the {Image.MAX_IMAGE_PIXELS:,} pixels Pillow decodes (PIL.Image.MAX_IMAGE_PIXELS, its guard "
                             "against decompression bombs); give a smaller image, or raise that limit if you trust the file.") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"cannot read {source!r} as an image ({exc}); give a PNG or JPEG file.") from None
    with im:
        if codable and im.width * im.height > MAX_PIXELS:
            raise InputError(f"{source!r} is {im.width}×{im.height} pixels, more than the {MAX_PIXELS:,} rdpkit's decoders make from one bitstream "
                             "by default (rdpkit.bitstream.MAX_PIXELS); give a smaller image, or cut it into tiles.")
        try:
            im.load()
        except Exception as exc:  # a damaged file makes Pillow's decoders raise almost anything
            raise InputError(f"cannot decode {source!r}: the file is damaged or truncated ({type(exc).__name__}: {str(exc)[:100]}); replace it with a good copy.") from None
        return to_tensor(im)


def load_image(source: str | Path, *, size: int | tuple[int, int] | None = None, mode: str = "resize", gray: bool = False,
               codable: bool = False) -> torch.Tensor:
    """One image as a 1×C×H×W float32 tensor.

    `source` is ``builtin:NAME`` (see `builtin_names()`) or a file path. With `size`, the
    image is scaled so that it covers size×size and centre-cropped (`mode="resize"`), or
    centre-cropped at full resolution (`mode="crop"`). `codable`: refuse a file of more pixels
    than rdpkit's decoders make by default (`rdpkit.bitstream.MAX_PIXELS`), from its header.
    """
    source = str(source)
    if source.startswith("builtin:"):
        name = source.split(":", 1)[1]
        if name not in BUILTIN_IMAGES:
            hint = suggestion(name, BUILTIN_IMAGES) or "the built-in images are " + ", ".join(builtin_names())
            raise InputError(f"unknown built-in image {name!r}; {hint}")
        x = to_tensor(BUILTIN_IMAGES[name]())
    else:
        x = _read_file(Path(source), codable)
    if gray and x.shape[1] == 3:
        x = (x * torch.tensor([0.2125, 0.7154, 0.0721]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif not gray and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return _fit(x, size, mode)


def load_images(sources: Iterable[str | Path], *, size: int | tuple[int, int] | None = None, mode: str = "resize", gray: bool = False) -> torch.Tensor:
    """Several images as an N×C×H×W batch, brought to one size (without `size` they must share one)."""
    sources = list(sources)
    batch = [load_image(s, size=size, mode=mode, gray=gray) for s in sources]
    if not batch:
        raise InputError("no images given; name at least one builtin:NAME or file.")
    shapes = {tuple(b.shape[-2:]) for b in batch}
    if len(shapes) > 1:
        sizes = ", ".join(f"{h}×{w}" for h, w in sorted(shapes))
        raise InputError(f"the images differ in size ({sizes}); pass a size (--size) to bring them to one square side.")
    return torch.cat(batch)


def folder_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder; give a folder of PNG/JPEG files.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"folder {str(folder)!r} holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
    return files


def load_folder(folder: str | Path, *, size: int | tuple[int, int] | None = None, mode: str = "resize", gray: bool = False) -> torch.Tensor:
    """Every PNG/JPEG/... file of a folder (sorted by name), brought to one size."""
    return load_images(folder_files(folder), size=size, mode=mode, gray=gray)


def digits(*, return_labels: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten digits, N×1×8×8 in [0, 1] (grey levels 0..16 / 16)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    return (x, torch.from_numpy(bunch.target)) if return_labels else x


def split(x: torch.Tensor, fractions: Sequence[float], seed: int = 0) -> list[torch.Tensor]:
    """Shuffle a batch under `seed` and cut it into parts of the given fractions."""
    if abs(sum(fractions) - 1) > 1e-9:
        raise InputError(f"split fractions must add up to 1, got {list(fractions)}.")
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    bounds = np.cumsum([0, *fractions]) * x.shape[0]
    idx = [perm[int(round(a)) : int(round(b))] for a, b in zip(bounds[:-1], bounds[1:])]
    return [x[i] for i in idx]


#: The colour photographs among the built-in images: what the source ``builtin`` means.
PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "hubble", "retina", "immunohistochemistry",
               "motorcycle-left", "motorcycle-right", "china", "flower")
#: Photographs no model the project ships was trained on: the evaluation set (``builtin:held-out``).
HELD_OUT = ("astronaut", "coffee", "china")
#: The rest: what the project's learned models train on (``builtin:training``).
TRAINING = tuple(p for p in PHOTOGRAPHS if p not in HELD_OUT)
GROUPS = {"held-out": HELD_OUT, "training": TRAINING}
SOURCE_FORMS = "digits, builtin, builtin:NAME,NAME,..., a folder of images or an image file"


@dataclass(frozen=True)
class Source:
    """Where a batch of images comes from; the one grammar every command and sweep file uses.

    - ``digits``: scikit-learn's 1,797 handwritten digits, 1×8×8 each;
    - ``builtin``: every built-in colour photograph (`PHOTOGRAPHS`); ``builtin:NAME,NAME,...``: those;
      ``builtin:training`` and ``builtin:held-out``: the photographs the project's models train
      on, and those kept out for evaluation;
    - a folder: every PNG/JPEG/... file in it, sorted by name;
    - a file: that image.

    `parse` checks that the source exists without reading any pixel.
    """

    text: str
    kind: str  # digits | builtin | folder | file
    items: tuple[str, ...] = ()  # built-in names, or the files of a folder / the file

    @classmethod
    def parse(cls, text: str | Path | Source) -> Source:
        if isinstance(text, Source):
            return text
        text = str(text).strip()
        if not text:
            raise InputError(f"an image source must not be empty; use {SOURCE_FORMS}.")
        if text == "digits":
            return cls(text, "digits")
        if text == "builtin":
            return cls(text, "builtin", PHOTOGRAPHS)
        if text.startswith("builtin:"):
            names = tuple(m for n in text.split(":", 1)[1].split(",") for m in GROUPS.get(n.strip(), (n.strip(),)))
            for name in names:
                if name not in BUILTIN_IMAGES:
                    hint = suggestion(name, [*BUILTIN_IMAGES, *GROUPS]) or "the built-in images are " + ", ".join(builtin_names())
                    raise InputError(f"unknown built-in image {name!r} in {text!r}; {hint}")
            return cls(text, "builtin", names)
        path = Path(text)
        if path.is_dir():
            return cls(text, "folder", tuple(str(f) for f in folder_files(path)))
        if path.is_file():
            return cls(text, "file", (text,))
        raise InputError(f"image source {text!r} is neither a file nor a folder; use {SOURCE_FORMS}.")

    def __str__(self) -> str:
        return self.text

    @property
    def native_side(self) -> int | None:
        """The side every image of the source has without resizing, when known without loading (digits: 8)."""
        return 8 if self.kind == "digits" else None

    def references(self) -> list[str]:
        """One loadable reference per image (``builtin:NAME`` or a path); not for digits."""
        if self.kind == "digits":
            raise InputError("the digits source is one array, not separate images; use builtin:NAME or files here.")
        return [f"builtin:{n}" for n in self.items] if self.kind == "builtin" else list(self.items)

    def identity(self) -> str:
        """What the source is: a folder or file by its resolved path plus a digest of every file's name and bytes.

        ``ds``, ``./ds/`` and the absolute path are one source; a changed file makes a new trial.
        The part before ``#sha256:`` is a path the source loads from again.
        """
        if self.kind not in ("folder", "file"):
            return self.text
        import hashlib

        digest = hashlib.sha256()
        for f in self.items:
            try:
                content = Path(f).read_bytes()
            except OSError as exc:  # a folder or a link loop named like an image: reading the images leaves it out, with why
                content = f"unreadable: {exc.strerror}".encode()
            digest.update(Path(f).name.encode() + b"\0" + content)
        return f"{Path(self.text).expanduser().resolve()}#sha256:{digest.hexdigest()[:16]}"

    def load(self, *, size: int | tuple[int, int] | None = None, gray: bool = False, mode: str = "resize") -> torch.Tensor:
        """The images as an N×C×H×W batch (see `load_image` for `size`, `mode` and `gray`)."""
        if self.kind == "digits":
            if size not in (None, 8, (8, 8)):
                raise InputError(f"the digits are 8×8 and are not resized; leave out the size (got {size}).")
            return digits()  # type: ignore[return-value]
        return load_images(self.references(), size=size, mode=mode, gray=gray)


def load_source(source: str | Path | Source, *, size: int | tuple[int, int] | None = None, gray: bool = False, mode: str = "resize") -> torch.Tensor:
    """The images of `source` (see `Source`) as an N×C×H×W batch in [0, 1]."""
    return Source.parse(source).load(size=size, gray=gray, mode=mode)


def load_samples(source: str | Path, *, size: int | None = None, gray: bool = False) -> torch.Tensor:
    """A sample set for a divergence: any image `Source` (as N×C×H×W) or a numeric .npy array (N×D or N×C×H×W, as stored)."""
    path = Path(source)
    if path.suffix.lower() == ".npy" and path.is_file():
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"cannot read {str(source)!r} as a numeric .npy array ({exc}); save it with numpy.save.") from None
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise InputError(f"{str(source)!r} holds {array.dtype} values; a sample set must be real numbers.")
        return torch.from_numpy(array.astype(np.float64 if array.dtype == np.float64 else np.float32))
    return load_source(str(source), size=size, gray=gray)
