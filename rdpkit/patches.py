"""Image patches for FID and KID on a few large images, the way codec papers compute them.

The MS-ILLM / HiFiC protocol: each image is cut into non-overlapping P×P patches from its
top-left corner (P = 256), and, when both sides are at least P + P/2 (384), into a second
grid shifted by P/2 (128) pixels in both directions; what does not fill a whole patch is left
out. Patches are quantised to 8 bits first, as a saved PNG would be, so that a codec's
float output and the file a user would write give the same number.
"""

from __future__ import annotations

import torch

from .errors import InputError

SIZE = 256


def patch_positions(height: int, width: int, size: int = SIZE, shift: int | None = None) -> list[tuple[int, int]]:
    """Top-left corners (row, column) of every patch of an H×W image, the shifted grid after the first."""
    shift = size // 2 if shift is None else shift
    if size < 1 or shift < 0:
        raise InputError(f"patches need a positive size and a non-negative shift, got size {size} and shift {shift}.")
    grid = [(r, c) for r in range(0, height - size + 1, size) for c in range(0, width - size + 1, size)]
    if shift and min(height, width) >= size + shift:
        grid += [(r, c) for r in range(shift, height - size + 1, size) for c in range(shift, width - size + 1, size)]
    return grid


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Values rounded to the nearest of 256 levels, as an 8-bit file stores them (float, in [0, 1])."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def patches(x: torch.Tensor, size: int = SIZE, shift: int | None = None) -> torch.Tensor:
    """Every patch of every image of the N×C×H×W batch `x`, quantised to 8 bits: M×C×size×size.

    Images smaller than a patch hold none (M = 0): among large images, a small one adds nothing
    to the set rather than failing it; a harness checks up front that its whole set holds enough.
    """
    n, channels, h, w = x.shape
    positions = patch_positions(h, w, size, shift)
    if not positions or not n:
        return x.new_zeros((0, channels, size, size))
    q = quantise(x)
    return torch.cat([q[:, :, r : r + size, c : c + size] for r, c in positions])
