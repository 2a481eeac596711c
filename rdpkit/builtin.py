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
        Spec("ms-ssim", "rdpkit.distortions:MSSSIM", summary="1 − MS-SSIM (5 scales; images at least 161×161)", differentiable=True, citation=MS_SSIM_CITATION),
    ]


@hookimpl
def rdpkit_divergences() -> list[Spec]:
    return []


@hookimpl
def rdpkit_codecs() -> list[Spec]:
    return [
        Spec("jpeg", "rdpkit.codecs.jpeg:JPEG", summary="JPEG through Pillow (libjpeg); option quality 1-95", citation="ITU-T T.81 / ISO/IEC 10918-1 (1992)"),
        Spec("webp", "rdpkit.codecs.webp:WebP", summary="WebP through Pillow (libwebp); options quality 0-100, lossless, method 0-6"),
        Spec("sq", "rdpkit.codecs.scalar:ScalarQuantizer", summary="uniform scalar quantiser of pixels, adaptive range coding (constriction); option levels"),
    ]


@hookimpl
def rdpkit_critics() -> list[Spec]:
    return []
