"""The hooks rdpkit calls; the factory is a string, so listing imports neither torch nor the codec."""

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
