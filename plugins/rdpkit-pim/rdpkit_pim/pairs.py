"""Pairs of temporally close images, the only supervision PIM needs.

Two sources:

- `BuiltinPairs`: the natural photographs that ship inside scikit-image, each pair made of
  two crops of one photograph that differ as consecutive video frames do (a small
  translation, a slight zoom and rotation, small changes of exposure, contrast, gamma and
  white balance), plus crops of scikit-image's stereo pair (motorcycle, left and right
  views) aligned by the median of the ground-truth disparity over the crop, so that what
  remains is the parallax inside the crop.
- `FramePairs`: the user's own videos as folders of frames; consecutive frames (by file
  name) form the pairs, cropped at the same random position.

Both draw every random choice from a `torch.Generator`, so a seed fixes the whole stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rdpkit.data import folder_files, load_image, to_tensor
from rdpkit.errors import InputError

#: Photographs used for training. chelsea and coffee are held out: the sanity benchmark
#: reports them separately as images the shipped model never saw.
TRAIN_IMAGES = (
    "astronaut", "camera", "rocket", "coins", "moon", "immunohistochemistry", "hubble",
    "retina", "brick", "grass", "gravel", "cell",
)
HELD_OUT_IMAGES = ("chelsea", "coffee")
#: Images are brought to this longer side first: crops then see objects at about the size
#: they have in the benchmark images, and the stereo pair's disparities shrink accordingly.
WORKING_SIDE = 384


@dataclass(frozen=True)
class Motion:
    """How far the second frame may move from the first (uniform ranges, ± around identity)."""

    shift_px: float = 2.0
    zoom: float = 0.04
    rotate_deg: float = 2.0
    brightness: float = 0.04
    contrast: float = 0.08
    gamma: float = 0.08
    white_balance: float = 0.03


def _uniform(n: int, half_width: float, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * half_width


def _resize_longer(x: torch.Tensor, side: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = side / max(h, w)
    if s >= 1:
        return x
    return F.interpolate(x, size=(round(h * s), round(w * s)), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def _crop(image: torch.Tensor, cx: float, cy: float, size: int, zoom: float, angle: float) -> torch.Tensor:
    """A size×size crop of image (1×C×H×W) centred at pixel (cx, cy), covering zoom·size pixels, rotated by angle (radians)."""
    h, w = image.shape[-2:]
    # affine_grid maps output coordinates in [−1, 1] to input coordinates in [−1, 1].
    sx, sy = zoom * size / w, zoom * size / h
    cos, sin = math.cos(angle), math.sin(angle)
    theta = torch.tensor(
        [[sx * cos, -sx * sin, (2 * cx + 1) / w - 1], [sy * sin, sy * cos, (2 * cy + 1) / h - 1]],
        dtype=image.dtype,
    )[None]
    grid = F.affine_grid(theta, [1, image.shape[1], size, size], align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _photometric(y: torch.Tensor, motion: Motion, g: torch.Generator) -> torch.Tensor:
    b, c = _uniform(1, motion.brightness, g).item(), 1 + _uniform(1, motion.contrast, g).item()
    gamma = 1 + _uniform(1, motion.gamma, g).item()
    gains = (1 + _uniform(y.shape[1], motion.white_balance, g)).to(y.dtype).view(1, -1, 1, 1)
    mean = y.mean()
    y = (mean + c * (y - mean) + b) * gains
    return y.clamp(1e-6, 1) ** gamma


class BuiltinPairs:
    """Frame-like pairs made from scikit-image's photographs and its stereo pair."""

    def __init__(self, images: tuple[str, ...] = TRAIN_IMAGES, *, stereo: float = 0.15, motion: Motion | None = None) -> None:
        if not images:
            raise InputError("BuiltinPairs needs at least one built-in image name, e.g. ('astronaut',).")
        if not 0 <= stereo <= 1:
            raise InputError(f"the stereo fraction must lie in [0, 1], got {stereo}.")
        self.names = tuple(images)
        self.images = [_resize_longer(load_image(f"builtin:{n}"), WORKING_SIDE) for n in self.names]
        self.stereo = stereo
        self.motion = motion or Motion()
        self.left, self.right, self.disparity = self._stereo_pair() if stereo > 0 else (None, None, None)

    @staticmethod
    def _stereo_pair() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        import skimage.data

        left, right, disparity = skimage.data.stereo_motorcycle()
        lt, rt = (_resize_longer(to_tensor(a), WORKING_SIDE) for a in (left, right))
        scale = lt.shape[-1] / left.shape[1]
        # Disparities are in pixels of the full-size images; bring them to the working size.
        disparity = disparity.astype(np.float64) * scale
        h, w = lt.shape[-2:]
        rows = np.clip((np.arange(h) / scale).astype(int), 0, disparity.shape[0] - 1)
        cols = np.clip((np.arange(w) / scale).astype(int), 0, disparity.shape[1] - 1)
        return lt, rt, disparity[np.ix_(rows, cols)]

    def describe(self) -> dict[str, object]:
        return {
            "source": "builtin",
            "images": [f"skimage.data:{n}" for n in self.names],
            "stereo": "skimage.data.stereo_motorcycle (crops aligned by the median ground-truth disparity)" if self.stereo else None,
            "stereo_fraction": self.stereo,
            "motion": self.motion.__dict__,
            "working_side": WORKING_SIDE,
        }

    def sample(self, batch: int, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch` pairs of size×size crops, as two N×3×size×size tensors in [0, 1]."""
        xs, ys = [], []
        for _ in range(batch):
            if self.left is not None and torch.rand(1, generator=g).item() < self.stereo:
                x, y = self._stereo_crop(size, g)
            else:
                x, y = self._motion_crop(size, g)
            xs.append(x)
            ys.append(y)
        return torch.cat(xs).float(), torch.cat(ys).float()

    def _motion_crop(self, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.motion
        image = self.images[int(torch.randint(len(self.images), (1,), generator=g))]
        h, w = image.shape[-2:]
        zoom = 2 ** _uniform(1, 0.5, g).item()  # objects between 0.7× and 1.4× their working size
        reach = zoom * size * 0.75 + m.shift_px
        cx = reach + torch.rand(1, generator=g).item() * max(w - 2 * reach, 1)
        cy = reach + torch.rand(1, generator=g).item() * max(h - 2 * reach, 1)
        x = _crop(image, cx, cy, size, zoom, 0.0)
        dx, dy = _uniform(2, m.shift_px, g).tolist()
        y = _crop(image, cx + dx, cy + dy, size, zoom * (1 + _uniform(1, m.zoom, g).item()), math.radians(_uniform(1, m.rotate_deg, g).item()))
        return x, _photometric(y, m, g)

    def _stereo_crop(self, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.left is not None and self.right is not None and self.disparity is not None
        h, w = self.left.shape[-2:]
        half = size // 2
        for _ in range(20):  # a crop where the disparity is known
            cx = half + torch.rand(1, generator=g).item() * (w - size)
            cy = half + torch.rand(1, generator=g).item() * (h - size)
            window = self.disparity[int(cy) - half : int(cy) + half, int(cx) - half : int(cx) + half]
            known = window[np.isfinite(window)]
            if known.size > window.size // 2:
                break
        d = float(np.median(known)) if known.size else 0.0
        x = _crop(self.left, cx, cy, size, 1.0, 0.0)
        y = _crop(self.right, max(cx - d, half), cy, size, 1.0, 0.0)
        return x, y


class FramePairs:
    """Consecutive frames of the user's videos: DIR holds frames, or sub-folders of frames (one per video)."""

    def __init__(self, folder: str | Path, *, side: int = WORKING_SIDE) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"{str(folder)!r} is not a folder; give a folder of video frames (PNG/JPEG), or of one sub-folder of frames per video.")
        videos = sorted(p for p in folder.iterdir() if p.is_dir()) or [folder]
        self.folder = folder
        self.frames: list[torch.Tensor] = []  # one T×3×H×W tensor per video
        for v in videos:
            files = folder_files(v)
            if len(files) < 2:
                continue
            self.frames.append(torch.cat([_resize_longer(load_image(f), side) for f in files]))
        if not self.frames:
            raise InputError(f"no folder under {str(folder)!r} holds two or more frames; a video needs at least two consecutive frames to make a pair.")
        self.pairs = [(v, t) for v, seq in enumerate(self.frames) for t in range(seq.shape[0] - 1)]

    def describe(self) -> dict[str, object]:
        return {"source": str(self.folder), "videos": len(self.frames), "pairs": len(self.pairs)}

    def sample(self, batch: int, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for _ in range(batch):
            v, t = self.pairs[int(torch.randint(len(self.pairs), (1,), generator=g))]
            seq = self.frames[v]
            h, w = seq.shape[-2:]
            if min(h, w) < size:
                raise InputError(f"the frames of video {v} are {h}×{w} pixels, smaller than the {size}-pixel training crops; use larger frames or a smaller --crop.")
            top = int(torch.randint(h - size + 1, (1,), generator=g))
            left = int(torch.randint(w - size + 1, (1,), generator=g))
            pair = seq[t : t + 2, :, top : top + size, left : left + size]
            if torch.rand(1, generator=g).item() < 0.5:  # the order of two frames carries no meaning for slowness
                pair = pair.flip(0)
            xs.append(pair[:1])
            ys.append(pair[1:])
        return torch.cat(xs), torch.cat(ys)
