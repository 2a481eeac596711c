"""The hooks rdpkit calls; the factories are strings, so listing imports neither torch nor the codecs."""

import rdpkit

FACTORIZED = "Ballé, Laparra & Simoncelli, End-to-end Optimized Image Compression, ICLR 2017; Ballé et al., ICLR 2018"
HYPERPRIOR = "Ballé, Minnen, Singh, Hwang & Johnston, Variational Image Compression with a Scale Hyperprior, ICLR 2018; Minnen, Ballé & Toderici, NeurIPS 2018 (mean=true)"
HIFIC = "Mentzer, Toderici, Tschannen & Agustsson, High-Fidelity Generative Image Compression, NeurIPS 2020; Blau & Michaeli, ICML 2019 (the stochastic decoder)"


@rdpkit.hookimpl
def rdpkit_codecs() -> list[rdpkit.Spec]:
    return [
        rdpkit.Spec("factorized", "rdpkit_learned_codecs.codecs.transform:FactorizedCodec",
                    summary="learned transform codec, GDN transforms + factorized prior; the shipped model by default (quality=1..5), or channels=/lam= to fit(), weights=compressai, weights=PATH",
                    needs_weights=False, weights="shipped with rdpkit-learned-codecs (sha256-checked), CompressAI's zoo files in the torch hub cache, or weights=PATH",
                    citation=FACTORIZED),
        rdpkit.Spec("hyperprior", "rdpkit_learned_codecs.codecs.transform:HyperpriorCodec",
                    summary="learned transform codec with a scale hyperprior (mean=true: mean-scale); the shipped model by default (quality=1..5), or channels=/lam= to fit(), weights=compressai, weights=PATH",
                    needs_weights=False, weights="shipped with rdpkit-learned-codecs (sha256-checked), CompressAI's zoo files in the torch hub cache, or weights=PATH",
                    citation=HYPERPRIOR),
        rdpkit.Spec("hific", "rdpkit_learned_codecs.codecs.hific:HificCodec",
                    summary="HiFiC-style GAN-trained codec on the hyperprior's bitstream: loss bpp + λ_d·Δ + λ_p·GAN (conditional patch discriminator), optional stochastic decoder; shipped pair (lam_p=0 and >0), or fit() from start=shipped",
                    needs_weights=False, weights="shipped with rdpkit-learned-codecs (sha256-checked), or weights=PATH",
                    citation=HIFIC),
        rdpkit.Spec("compressai-model", "rdpkit_learned_codecs.codecs.adapter:CompressAIProtocolCodec",
                    summary="any model with CompressAI's compress/decompress protocol: model='package.module:callable' (and weights=PATH, stride=64)",
                    citation="Bégaint et al., CompressAI: a PyTorch library and evaluation platform for end-to-end compression research, 2020"),
    ]


@rdpkit.hookimpl
def rdpkit_distortions() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("weighted-sum", "rdpkit_learned_codecs.weighted_sum:WeightedSum", differentiable=True,
                        summary='Σ w·Δ over registered differentiable distortions, terms=[["mse", 1.0], ["pim", 0.01]]: the hific codec\'s training losses, auditable',
                        citation=HIFIC)]


@rdpkit.hookimpl
def rdpkit_sweep_presets() -> list[rdpkit.Spec]:
    return [rdpkit.Spec("learned-codecs-heldout", "rdpkit_learned_codecs.presets:heldout",
                        summary="the shipped hyperprior and factorized codecs against JPEG and WebP on the held-out photographs (BD-rate, R-D curves; no training)",
                        citation=HYPERPRIOR),
            rdpkit.Spec("hific-heldout", "rdpkit_learned_codecs.presets:hific_heldout",
                        summary="JPEG, WebP, the shipped hyperprior and the shipped hific pairs (λ_p = 0 and > 0) on the held-out photographs: BD-rate, R-D at constant perception, P-D plane (no training)",
                        citation=HIFIC)]


@rdpkit.hookimpl
def rdpkit_commands(cli) -> None:
    """`rdpkit learned-codecs train`."""
    from .cli import main

    cli.add_command(main, "learned-codecs")
