"""Training images and the random crops (with flips) that codecs train on.

Images keep their native resolution; a crop is drawn from an image chosen with probability
proportional to its area (so every pixel is about equally likely), then flipped left-right
and upside-down with probability ½ each. Every draw comes from one CPU generator, so a seed
fixes the whole sequence of batches on any device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rdpkit.data import Source, digits, load_image
from rdpkit.errors import InputError
from rdpkit.validation import check_images


class Crops:
    """A set of RGB training images (3×H×W each, in [0, 1]) to draw square crops from."""

    def __init__(self, images: list[torch.Tensor], description: dict[str, Any]) -> None:
        if not images:
            raise InputError("there are no training images; give a folder of PNG/JPEG files, builtin:training, or an N×C×H×W tensor.")
        self.images = [im.float().expand(3, -1, -1).contiguous() if im.shape[0] == 1 else im.float().contiguous() for im in images]
        self.description = description
        areas = torch.tensor([im.shape[1] * im.shape[2] for im in self.images], dtype=torch.float64)
        self.weights = areas / areas.sum()
        self.side = min(min(im.shape[1:]) for im in self.images)

    @classmethod
    def of(cls, data: Any) -> Crops:
        """Crops from an image source (``builtin:training``, a folder, a file, ``digits``), an N×C×H×W tensor or a list of C×H×W tensors."""
        if isinstance(data, Crops):
            return data
        if isinstance(data, torch.Tensor):
            check_images(data, "data")
            return cls(list(data.detach().cpu()), {"source": "tensor", "shape": list(data.shape)})
        if isinstance(data, (list, tuple)) and data and all(isinstance(t, torch.Tensor) for t in data):
            for t in data:
                check_images(t[None] if t.ndim == 3 else t, "data")
            return cls([t.detach().cpu()[0] if t.ndim == 4 else t.detach().cpu() for t in data], {"source": "tensors", "count": len(data)})
        if isinstance(data, (str, Path)):
            source = Source.parse(data)
            if source.kind == "digits":
                return cls(list(digits()), {"source": "digits"})  # type: ignore[arg-type]
            refs = source.references()
            return cls([load_image(r)[0] for r in refs], {"source": source.text, "images": refs})
        raise InputError(f"training data must be an image source (a folder, builtin:training, ...), an N×C×H×W tensor or a list of images, got {type(data).__name__}.")

    def batch(self, size: int, crop: int, generator: torch.Generator) -> torch.Tensor:
        """`size` random crops of side min(crop, the smallest image side), randomly flipped: size×3×side×side."""
        side = min(crop, self.side)
        which = torch.multinomial(self.weights, size, replacement=True, generator=generator).tolist()
        out = []
        for i in which:
            im = self.images[i]
            top = int(torch.randint(im.shape[1] - side + 1, (1,), generator=generator))
            left = int(torch.randint(im.shape[2] - side + 1, (1,), generator=generator))
            patch = im[:, top : top + side, left : left + side]
            flips = torch.rand(2, generator=generator) < 0.5
            if flips[0]:
                patch = patch.flip(2)
            if flips[1]:
                patch = patch.flip(1)
            out.append(patch)
        return torch.stack(out)
