"""The hooks rdpkit calls; the factories are strings, so listing imports neither torch nor the codec."""

import rdpkit

CITATION = "Blau & Michaeli, Rethinking Lossy Compression: The Rate-Distortion-Perception Tradeoff, ICML 2019"


@rdpkit.hookimpl
def rdpkit_codecs() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec(
            "gan",
            "rdpkit_gan_codec.codec:GanCodec",
            summary="learned codec: encoder, dim latents × L levels (soft-to-hard), stochastic decoder, loss Δ + λ·W1 (WGAN-GP); fit() first",
            citation=CITATION,
        )
    ]


@rdpkit.hookimpl
def rdpkit_sweep_presets() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec("digits-smoke", "rdpkit_gan_codec.presets:digits_smoke", summary="the digits experiment in a few short trials (under 3 min on 2 cores): tests and quick checks", citation=CITATION),
        rdpkit.Spec("digits", "rdpkit_gan_codec.presets:digits", summary="Blau & Michaeli's digits experiment: 2-16 bits × 4 perception weights (under 30 min on 2 cores)", citation=CITATION),
    ]
