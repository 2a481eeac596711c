"""A third-party plugin that registers `mse`, a name of rdpkit's own (as a careless plugin would)."""

from __future__ import annotations

import rdpkit
from rdpkit.interfaces import Distortion


class DoubledMSE(Distortion):
    """Twice the mean squared error: a different metric under the name `mse`."""

    def _distance(self, x, x_hat):
        return 2 * (x - x_hat).pow(2).flatten(1).mean(1)


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("mse", DoubledMSE, summary="twice the MSE", differentiable=True)]
