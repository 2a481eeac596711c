"""What decides a recovery run besides the distortion and the cases: sizes, profile, seed, thresholds, device.

Importing this module does not import torch, so the command line can show the defaults cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .profiles import DEFAULT_PROFILE, Profile, get_profile
from .verdict import Thresholds

#: The default side: the smallest multiple of 32 that MS-SSIM's five scales accept (161).
DEFAULT_SIZE = 192
#: Default bound on N·C·H·W per optimisation: 8 RGB images of 256×256. A single image above
#: the bound runs alone; its memory is then what D itself needs for one forward and backward pass.
MAX_PIXELS = 1_572_864


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_stride(steps: int) -> int:
    """Record about 100 points of the trajectory."""
    return max(1, steps // 100)


@dataclass(frozen=True)
class Settings:
    """Build it with `Settings.make`, which fills in and checks the defaults."""

    size: int
    profile: Profile
    seed: int
    stride: int
    thresholds: Thresholds
    device: str
    max_pixels: int

    @classmethod
    def make(
        cls,
        size: int = DEFAULT_SIZE,
        profile: str | Profile = DEFAULT_PROFILE,
        steps: int | None = None,
        seed: int = 0,
        thresholds: Thresholds | None = None,
        stride: int | None = None,
        device: str | None = None,
        max_pixels: int = MAX_PIXELS,
    ) -> Settings:
        """`steps` overrides the profile's; `stride` is how often the trajectory is recorded; `device` defaults to CUDA when present."""
        prof = get_profile(profile).with_steps(steps)
        stride = stride or default_stride(prof.steps)
        if stride < 1:
            raise InputError(f"stride must be at least 1, got {stride}.")
        if size < 1:
            raise InputError(f"size must be a positive number of pixels, got {size}.")
        if max_pixels < 1:
            raise InputError(f"max_pixels must be positive, got {max_pixels}.")
        return cls(size, prof, seed, stride, (thresholds or Thresholds()).check(), device or default_device(), max_pixels)
