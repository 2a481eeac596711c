"""Optimisation profiles of the recovery test: Adam on y, a step-halving learning rate, y clamped to [0, 1].

`ding` is the setting of Ding et al.'s own code (IJCV 2021, section 3.1). `fast` is rdpkit's
CPU default: a twentieth of the steps at a four times higher learning rate that is halved
twenty times as often, with the same moment resets and clamping. It was chosen by running
both profiles on the built-in distortions (mse, ssim, ms-ssim) × {astronaut, coffee} ×
{noise, jpeg:10} at 192×192: the verdicts agreed on all 12 cases (11 recovered, `fast` at
48 dB PSNR or more, `ding` at 54 dB or more; ms-ssim from astronaut's seed-0 noise is not
converged under both, a dead start: one channel has an exactly zero gradient from step 0).
Repeat the comparison with ``rdpkit audit --profile ding``
followed by ``rdpkit audit`` on one store: the report puts the two profiles' verdicts side by side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import InputError, suggestion


@dataclass(frozen=True)
class Profile:
    """Adam with learning rate `lr`, halved every `halve_every` steps but never below `min_lr`.

    With `reset_moments`, each halving starts a fresh Adam (first and second moments zeroed),
    as Ding et al. do; once the rate sits at `min_lr` it no longer changes and nothing is reset.
    """

    name: str
    steps: int
    lr: float
    halve_every: int
    min_lr: float
    reset_moments: bool = True

    def lr_at(self, step: int) -> float:
        """The learning rate used for update number `step` (0-based)."""
        return max(self.min_lr, self.lr * 0.5 ** (step // self.halve_every))

    def with_steps(self, steps: int | None) -> Profile:
        """This profile run for `steps` updates instead (None keeps the profile's own count)."""
        if steps is None:
            return self
        if steps < 1:
            raise InputError(f"steps must be at least 1, got {steps}.")
        return replace(self, steps=int(steps))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        reset = ", Adam moments reset at each halving" if self.reset_moments else ""
        return (f"{self.name}: Adam, {self.steps:,} steps, lr {self.lr:g} halved every {self.halve_every:,} steps "
                f"down to {self.min_lr:g}{reset}; y clamped to [0, 1] after every step")


PROFILES: dict[str, Profile] = {
    "ding": Profile("ding", steps=20_000, lr=0.005, halve_every=2_000, min_lr=1e-4),
    "fast": Profile("fast", steps=1_000, lr=0.02, halve_every=100, min_lr=1e-4),
}
DEFAULT_PROFILE = "fast"


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (``ding``, ``fast``), or the given Profile unchanged."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        hint = suggestion(str(profile), PROFILES) or "the profiles are " + ", ".join(PROFILES)
        raise InputError(f"unknown optimisation profile {profile!r}; {hint}")
    return PROFILES[profile]
