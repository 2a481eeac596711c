"""The hooks rdpkit calls. Light on purpose: `rdpkit list` imports this module, not torch."""

import rdpkit

CITATION = "Bhardwaj, Fischer, Ballé & Chinen, An Unsupervised Information-Theoretic Perceptual Quality Metric, NeurIPS 2020"


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            "pim",
            "rdpkit_pim.distortion:PIM",
            summary="PIM: symmetrised KL between unsupervised multi-scale encodings, in nats",
            differentiable=True,
            needs_weights=True,
            weights="shipped with rdpkit-pim (sha256-checked), or checkpoint=PATH",
            citation=CITATION,
        )
    ]


@rdpkit.hookimpl
def rdpkit_feature_extractors() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            "pim",
            "rdpkit_pim.features:PIMFeatures",
            summary="PIM's representation z: per scale, the spatial mean and spread of E[z | x] (self-trained, offline: FID/KID with no download)",
            needs_weights=True,
            weights="shipped with rdpkit-pim (sha256-checked), or checkpoint=PATH",
            citation=CITATION,
        )
    ]


@rdpkit.hookimpl
def rdpkit_commands(cli) -> None:
    """`rdpkit pim train`."""
    from .cli import main

    cli.add_command(main, "pim")
