"""The hooks rdpkit calls. Keep this module light: it is imported by `rdpkit list`."""

from __future__ import annotations

import rdpkit

CITATION = "Zhang, Isola, Efros, Shechtman & Wang, The unreasonable effectiveness of deep features as a perceptual metric, CVPR 2018"
WEIGHTS = "linear layers ship with the lpips package; ImageNet backbone from the torch hub cache (<torch hub dir>/checkpoints), or pretrained=False for a random one"
BACKBONES = {"alex": "LPIPSAlex", "vgg": "LPIPSVGG", "squeeze": "LPIPSSqueeze"}


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            f"lpips-{net}",
            f"rdpkit_lpips.metric:{cls}",
            summary=f"LPIPS v0.1 on the {net} backbone (options: pretrained, download, seed)",
            differentiable=True,
            needs_weights=True,
            weights=WEIGHTS,
            citation=CITATION,
        )
        for net, cls in BACKBONES.items()
    ]
