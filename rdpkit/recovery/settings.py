"""What decides a recovery run besides the distortion and the cases: sizes, profile, seed, thresholds, device.

`Settings` is the one list of these parameters: the Python API (`recover(..., steps=200)`),
the audit and the command line all build one and pass it along. Importing this module does
not import torch, so the command line can show the defaults cheaply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import InputError
from .profiles import DEFAULT_PROFILE, Profile, get_profile
from .verdict import Thresholds

#: The default side: the smallest multiple of 32 that MS-SSIM's five scales accept (161).
DEFAULT_SIZE = 192
#: Default bound on N·C·H·W per optimisation: 8 RGB images of 256×256. A single image above
#: the bound runs alone; its memory is then what D itself needs for one forward and backward pass.
MAX_PIXELS = 1_572_864
#: The largest side: one 4096×4096 RGB image is 16.8 million values, and the optimisation holds it
#: five times over (original, iterate, gradient, Adam's two moments: 1 GB in float32) besides what
#: D needs for a forward and backward pass, which for a network distortion is tens of times more.
MAX_SIZE = 4096


def default_stride(steps: int) -> int:
    """Record about 100 points of the trajectory."""
    return max(1, steps // 100)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}.")
    return value


@dataclass(frozen=True)
class Settings:
    """The recovery test's settings, checked and completed on creation.

    `size`: side images are scaled and centre-cropped to; `profile`: the optimisation profile
    (``fast``, ``ding`` or a Profile) and `steps` an override of its step count; `seed`: of the
    noise initialisation and the near-identical perturbations; `stride`: how often the
    trajectory is recorded (default: about 100 points); `thresholds`: what counts as recovered;
    `device`: ``auto`` (CUDA when present), ``cpu``, ``cuda[:N]``; `max_pixels`: the most
    values (N·C·H·W) optimised at once.
    """

    size: int = DEFAULT_SIZE
    profile: Profile | str = DEFAULT_PROFILE
    steps: int | None = None
    seed: int = 0
    stride: int | None = None
    thresholds: Thresholds = Thresholds()
    device: str = "auto"
    max_pixels: int = MAX_PIXELS

    def __post_init__(self) -> None:
        from ..validation import check_device

        prof = get_profile(self.profile).with_steps(self.steps)
        set_ = object.__setattr__
        set_(self, "profile", prof)
        set_(self, "steps", prof.steps)
        set_(self, "stride", _positive_int(self.stride, "stride") if self.stride is not None else default_stride(prof.steps))
        if _positive_int(self.size, "size") > MAX_SIZE:
            raise InputError(f"size must be at most {MAX_SIZE} pixels (a {self.size}×{self.size} image and its optimiser state alone "
                             f"need {5 * 3 * 4 * self.size ** 2 / 2 ** 30:.1f} GB, before the distortion's own); use a smaller --size.")
        _positive_int(self.max_pixels, "max_pixels")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {self.seed!r}.")
        if not isinstance(self.thresholds, Thresholds):
            raise InputError(f"thresholds must be an rdpkit.recovery.Thresholds, got {type(self.thresholds).__name__}.")
        self.thresholds.check()
        set_(self, "device", check_device(self.device))

    def with_profile(self, profile: Profile | str) -> Settings:
        """The same settings under another profile, with that profile's own steps and stride."""
        return replace(self, profile=profile, steps=None, stride=None)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["profile"], d["thresholds"] = self.profile.as_dict(), self.thresholds.as_dict()  # type: ignore[union-attr]
        return d
