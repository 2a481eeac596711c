"""rdpkit's own components, registered through the `rdpkit` entry point like any plugin's."""

from __future__ import annotations

from .hookspecs import hookimpl
from .spec import Spec

# Literal here, not imported from the implementations: listing must not import torch.
SSIM_CITATION = "Wang, Bovik, Sheikh & Simoncelli, Image quality assessment: from error visibility to structural similarity, IEEE TIP 2004"
MS_SSIM_CITATION = "Wang, Simoncelli & Bovik, Multiscale structural similarity for image quality assessment, Asilomar 2003"


@hookimpl
def rdpkit_distortions() -> list[Spec]:
    return [
        Spec("mse", "rdpkit.distortions:MSE", summary="mean squared error", differentiable=True),
        Spec("ssim", "rdpkit.distortions:SSIM", summary="1 − SSIM (11×11 Gaussian window, σ = 1.5)", differentiable=True, citation=SSIM_CITATION),
        Spec("ms-ssim", "rdpkit.distortions:MSSSIM", summary="1 − MS-SSIM (5 scales; images at least 161×161)", differentiable=True, citation=MS_SSIM_CITATION,
             similarity="ms-ssim-rgb"),
    ]


@hookimpl
def rdpkit_divergences() -> list[Spec]:
    d = "rdpkit.divergences"
    knn = "Wang, Kulkarni & Verdú, Divergence estimation for multidimensional densities via k-nearest-neighbor distances, IEEE Trans. Inf. Theory 2009"
    pot = "Flamary et al., POT: Python Optimal Transport, JMLR 2021"
    sliced = "Rabin, Peyré, Delon & Bernot, Wasserstein barycenter and its application to texture mixing, SSVM 2011"
    sinkhorn = "Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré, Interpolating between Optimal Transport and MMD using Sinkhorn Divergences, AISTATS 2019"
    wgan_gp = "Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, Improved Training of Wasserstein GANs, NeurIPS 2017; as a perception index: Blau & Michaeli, ICML 2019"
    fid = "Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, GANs trained by a two time-scale update rule converge to a local Nash equilibrium, NeurIPS 2017"
    mmd = "Gretton, Borgwardt, Rasch, Schölkopf & Smola, A kernel two-sample test, JMLR 2012"
    kid = "Bińkowski, Sutherland, Arbel & Gretton, Demystifying MMD GANs, ICLR 2018"
    return [
        Spec("tv-discrete", f"{d}.discrete:TVDiscrete", summary="TV between empirical laws of discrete samples (plug-in; continuous samples quantised per feature)"),
        Spec("tv-classifier", f"{d}.trained:TVClassifier", summary="lower bound on TV: held-out TPR + TNR − 1 of a trained real-vs-fake classifier"),
        Spec("kl-discrete", f"{d}.discrete:KLDiscrete", summary="KL(p‖q) in nats between add-½ smoothed empirical laws of discrete samples (plug-in)"),
        Spec("kl-knn", f"{d}.knn:KLKNN", summary="KL(p‖q) in nats, k-nearest-neighbour estimator for continuous samples", citation=knn),
        Spec("w1-1d", f"{d}.onedim:W1OneDim", summary="W1 between 1-D samples, exact"),
        Spec("w2-1d", f"{d}.onedim:W2OneDim", summary="W2 (not squared) between 1-D samples, exact"),
        Spec("wasserstein-exact", f"{d}.transport:WassersteinExact", summary="W2 (or W1 with p=1), not squared: exact optimal transport (POT), up to a few thousand samples", citation=pot),
        Spec("wasserstein-sliced", f"{d}.sliced:WassersteinSliced", summary="SW2 = sqrt(mean over random directions of W2²), not squared", citation=sliced),
        Spec("wasserstein-sinkhorn", f"{d}.sinkhorn:WassersteinSinkhorn", summary="W2² (squared) approximated by the debiased Sinkhorn divergence with cost ‖x − y‖²", citation=sinkhorn),
        Spec("wasserstein-critic", f"{d}.trained:WassersteinCritic", summary="W1 from a WGAN-GP critic trained on one split and evaluated on the held-out split", citation=wgan_gp),
        Spec("frechet", f"{d}.features:Frechet", summary="W2² between Gaussian fits of features (FID-style; biased by ~1/n), features from a registered critic or raw", citation=fid),
        Spec("mmd", f"{d}.features:MMD", summary="unbiased MMD² with a Gaussian kernel (median bandwidth) on features from a registered critic or raw", citation=mmd),
        Spec("kid", f"{d}.features:KID", summary="KID: unbiased MMD² with the cubic polynomial kernel on features from a registered critic or raw", citation=kid),
    ]


@hookimpl
def rdpkit_codecs() -> list[Spec]:
    return [
        Spec("jpeg", "rdpkit.codecs.jpeg:JPEG", summary="JPEG through Pillow (libjpeg); option quality 1-95", citation="ITU-T T.81 / ISO/IEC 10918-1 (1992)"),
        Spec("webp", "rdpkit.codecs.webp:WebP", summary="WebP through Pillow (libwebp); options quality 0-100, lossless, method 0-6"),
        Spec("sq", "rdpkit.codecs.scalar:ScalarQuantizer", summary="uniform scalar quantiser of pixels, adaptive range coding (constriction); option levels"),
    ]


@hookimpl
def rdpkit_critics() -> list[Spec]:
    c = "rdpkit.critics"
    wgan_gp = "Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, Improved Training of Wasserstein GANs, NeurIPS 2017; as a perception index: Blau & Michaeli, ICML 2019"
    niqe = "Mittal, Soundararajan & Bovik, Making a 'completely blind' image quality analyzer, IEEE Signal Processing Letters 2013"
    return [
        Spec("wgan-gp", f"{c}.wgan:WGANGPCritic", summary="trainable WGAN-GP critic, −f(x) (call fit(real, fake) first; untrained it is a random network)", differentiable=True, citation=wgan_gp),
        Spec("classifier", f"{c}.classifier:ClassifierCritic", summary="trainable real-vs-fake classifier, log-odds that x is fake (call fit(real, fake) first)", differentiable=True),
        Spec("niqe", f"{c}.niqe:NIQE", summary="NIQE fitted in rdpkit on a pristine corpus (default: scikit-image's photographs); not on the published scale", citation=niqe),
    ]


@hookimpl
def rdpkit_feature_extractors() -> list[Spec]:
    niqe = "Mittal, Soundararajan & Bovik, Making a 'completely blind' image quality analyzer, IEEE Signal Processing Letters 2013"
    return [
        Spec("nss", "rdpkit.extractors:NaturalSceneStatistics", summary="NIQE's 36 natural-scene statistics averaged over P×P patches (hand-crafted, no weights)", citation=niqe),
    ]


@hookimpl
def rdpkit_dataset_layouts() -> list[Spec]:
    return [
        Spec("kodak", "rdpkit.datasets:kodak", summary="the Kodak set: kodim01.png … kodim24.png (768×512 or 512×768)"),
        Spec("clic2020", "rdpkit.datasets:clic2020", summary="CLIC 2020 professional and/or mobile, valid or test (41/61/250/178 images)"),
        Spec("div2k", "rdpkit.datasets:div2k", summary="DIV2K high-resolution images: validation 0801–0900 or training 0001–0800"),
        # The subjective-quality datasets of rdpkit judge: images with human judgments.
        Spec("tid2013", "rdpkit.judge.datasets:TID2013.load", summary="TID2013: 3,000 distorted images of 25 references, 24 types, MOS (Ponomarenko et al. 2015)"),
        Spec("tid2008", "rdpkit.judge.datasets:TID2008.load", summary="TID2008: 1,700 distorted images of 25 references, 17 types, MOS (Ponomarenko et al. 2009)"),
        Spec("kadid-10k", "rdpkit.judge.datasets:KADID_10K.load", summary="KADID-10k: 10,125 distorted images of 81 references, 25 types, MOS (Lin, Hosu & Saupe 2019)"),
        Spec("csiq", "rdpkit.judge.datasets:CSIQ.load", summary="CSIQ: 866 distorted images of 30 references, 6 types, DMOS (Larson & Chandler 2010)"),
        Spec("live", "rdpkit.judge.datasets:LIVE.load", summary="LIVE release 2: 779 distorted images of 29 references, 5 types, DMOS (Sheikh, Sabir & Bovik 2006)"),
        Spec("pipal", "rdpkit.judge.datasets:PIPAL.load", summary="PIPAL training set: 23,200 distorted images of 200 references, Elo (Jinjin et al. 2020)"),
        Spec("koniq-10k", "rdpkit.judge.datasets:KONIQ_10K.load", summary="KonIQ-10k: 10,073 photographs, MOS, no reference (Hosu et al. 2020)"),
        Spec("spaq", "rdpkit.judge.datasets:SPAQ.load", summary="SPAQ: 11,125 smartphone photographs, MOS, no reference (Fang et al. 2020)"),
        Spec("live-challenge", "rdpkit.judge.datasets:LIVE_CHALLENGE.load", summary="LIVE Challenge: 1,161 photographs, MOS, no reference (Ghadiyaram & Bovik 2016)"),
        Spec("bapps-2afc", "rdpkit.judge.datasets:BAPPS_2AFC.load", summary="BAPPS 2AFC validation triplets, share of judges preferring p1 (Zhang et al. 2018)"),
        Spec("bapps-jnd", "rdpkit.judge.datasets:BAPPS_JND.load", summary="BAPPS JND validation pairs, share of judges seeing no difference (Zhang et al. 2018)"),
    ]
