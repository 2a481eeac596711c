"""The hooks rdpkit calls. Keep this module light: it is imported by `rdpkit list`.

The factory is a "module:attribute" string, so torch and the metric's module are imported
only when somebody creates the metric.
"""

import rdpkit


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            "charbonnier",
            "rdpkit_example.charbonnier:Charbonnier",
            summary="Charbonnier penalty sqrt(e² + ε²) − ε, a smooth L1",
            differentiable=True,
            citation="Charbonnier, Blanc-Féraud, Aubert & Barlaud, Two deterministic half-quadratic regularization algorithms, ICIP 1994",
        ),
        rdpkit.Spec(
            "pooled-mse",
            "rdpkit_example.pooled:PooledMSE",
            summary="deliberately flawed: MSE of 8×8 block means, blind to everything inside a block (what `rdpkit audit` catches)",
            differentiable=True,
        ),
    ]
