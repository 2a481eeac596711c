"""The hooks rdpkit calls. Keep this module light: it is imported by `rdpkit list`."""

from __future__ import annotations

import rdpkit


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            "timm",
            "rdpkit_timm.features:DeepFeatures",
            summary="||x − x̂||² + α ||Ψ(x) − Ψ(x̂)||² on a timm backbone (options: backbone, layers, alpha, pretrained, download, seed)",
            differentiable=True,
            needs_weights=True,
            weights="Hugging Face cache (timm/<model>) or torch hub cache, or pretrained=False for a random backbone",
            citation="Johnson, Alahi & Fei-Fei, Perceptual losses for real-time style transfer and super-resolution, ECCV 2016; Blau & Michaeli, ICML 2019, eq. 11",
        )
    ]
