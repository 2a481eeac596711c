"""The hook rdpkit calls; the factory is a string, so listing imports neither torch-fidelity nor the network."""

import rdpkit

CITATION = ("Heusel et al., GANs trained by a two time-scale update rule converge to a local Nash equilibrium, NeurIPS 2017; "
            "Obukhov et al., torch-fidelity, 2020")


@rdpkit.hookimpl
def rdpkit_feature_extractors() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            "inception-v3-fid",
            "rdpkit_fidelity.inception:InceptionFID",
            summary="2048 pool features of the Inception-v3 that FID is defined on, as torch-fidelity computes them (8-bit input, TF-compatible resize to 299)",
            needs_weights=True,
            weights="torch hub cache: checkpoints/weights-inception-2015-12-05-6726825d.pth (torch-fidelity's release v0.2.0)",
            citation=CITATION,
        )
    ]
