"""The stride-grid penalty: the energy of the part of the decoding error that repeats with the synthesis's stride.

The synthesis ends in stride-2 transposed convolutions, which can print a grid of period 2 or 4
(issue 22: the first GAN members' error spectra peaked at the multiples of 1/4 cycle per pixel,
where an adversarial loss that sees fine detail rewards energy). Per image, the error x̂ − x is
averaged over the colour channels and cut into `WINDOW`×`WINDOW` windows; in each, the mean
over its tiles of every one of the `PERIOD`×`PERIOD` phases is the window's periodic part (its
2-D DFT is exactly the error's at the 15 nonzero multiples of 1/`PERIOD` cycle per pixel, plus
the window's mean, which is removed). The penalty is that part's mean square: in MSE units, so
a weight λ_g makes a periodic error λ_g times as costly as any other. An error without a grid
has almost none of it (a white error of variance σ² gives σ²·15/16/64 with these sizes), so the
penalty leaves everything but the grid to the distortion and the GAN loss.

Windows rather than the whole crop, because a grid's phase and sign follow the content (it
shows in flat regions): averaged over a whole crop, grids of opposite sign would cancel.
"""

from __future__ import annotations

import torch

#: The period of the grids the synthesis's last two stride-2 stages can draw (2 and 4).
PERIOD = 4
#: The side of the windows over which a grid is taken to be constant (64 tiles of PERIOD×PERIOD each).
WINDOW = 32


def grid_energy(error: torch.Tensor) -> torch.Tensor:
    """The mean square of the periodic part of each N×C×H×W error image (module docstring), over its whole windows
    (at least one: H, W ≥ `WINDOW`)."""
    n, _, h, w = error.shape
    h, w = h // WINDOW * WINDOW, w // WINDOW * WINDOW
    if not h or not w:
        raise ValueError(f"the stride-grid penalty needs images of at least {WINDOW}×{WINDOW} pixels, got {error.shape[-2]}×{error.shape[-1]}")
    e = error[..., :h, :w].float().mean(1).reshape(n, h // WINDOW, WINDOW // PERIOD, PERIOD, w // WINDOW, WINDOW // PERIOD, PERIOD)
    phases = e.mean((2, 5))  # n × windows_y × PERIOD × windows_x × PERIOD
    periodic = phases - phases.mean((2, 4), keepdim=True)
    return periodic.pow(2).flatten(1).mean(1)
