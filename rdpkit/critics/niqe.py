"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013), fitted in rdpkit.

Each image is cut into P×P patches; each patch is described by 18 natural-scene statistics of
its mean-subtracted contrast-normalised (MSCN) coefficients at each of two scales (a
generalised Gaussian fit of the coefficients, and asymmetric generalised Gaussian fits of
their products with the four neighbours), 36 numbers in all. A multivariate Gaussian fitted to
the sharpest patches of a pristine corpus is the model; an image's score is the distance
sqrt((μ₁ − μ₂)ᵀ ((Σ₁ + Σ₂)/2)⁺ (μ₁ − μ₂)) between that model and the Gaussian of its patches.
Lower is better.

The published model parameters (fitted on 125 pristine photographs) cannot be downloaded here,
so rdpkit fits its own: by default on the natural photographs that ship inside scikit-image
(`BUILTIN_CORPUS`), the first time a score is asked for; `fit(images)` refits on your corpus.
Scores are therefore on rdpkit's scale, not comparable with published NIQE numbers.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ..data import HELD_OUT
from ..errors import InputError
from ..interfaces import Critic
from ..validation import check_images

#: The photographs of scikit-image used as the default pristine corpus: textures and micrographs left out, and the
#: held-out photographs (rdpkit.data.HELD_OUT) too, on which codecs are evaluated: fitted on them, NIQE would judge
#: their decodings against a model of those very images.
BUILTIN_CORPUS = tuple(n for n in ("astronaut", "camera", "chelsea", "coffee", "rocket", "motorcycle-left", "motorcycle-right")
                       if n not in HELD_OUT)
#: Patches whose sharpness is below this fraction of the image's sharpest patch are not pristine.
SHARPNESS_THRESHOLD = 0.75
#: The images of the built-in corpus are scaled to this side (the corpus is read once per process).
BUILTIN_SIZE = 384
# Neighbour offsets (row, column): horizontal, vertical, main diagonal, anti-diagonal.
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
_SHAPES = torch.arange(0.2, 10.0005, 0.001, dtype=torch.float64)


def _ratio_table() -> torch.Tensor:
    """Γ(2/a)² / (Γ(1/a) Γ(3/a)) for the grid of shapes a, increasing in a."""
    r = 1 / _SHAPES
    return torch.exp(2 * torch.lgamma(2 * r) - torch.lgamma(r) - torch.lgamma(3 * r))


_RATIOS = _ratio_table()


def _gaussian_window(device: torch.device) -> torch.Tensor:
    t = torch.arange(-3, 4, dtype=torch.float64, device=device)
    g = torch.exp(-(t**2) / (2 * (7 / 6) ** 2))
    w = g[:, None] * g[None, :]
    return (w / w.sum())[None, None]


def mscn(gray: torch.Tensor) -> torch.Tensor:
    """MSCN coefficients of N×1×H×W luminance on the 0..255 scale (7×7 Gaussian, σ = 7/6, C = 1)."""
    w = _gaussian_window(gray.device)
    pad = F.pad(gray, (3, 3, 3, 3), mode="replicate")
    mu = F.conv2d(pad, w)
    sigma = (F.conv2d(pad * pad, w) - mu * mu).abs().sqrt()
    return (gray - mu) / (sigma + 1)


def aggd(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Moment-matching fit of an asymmetric generalised Gaussian to each row of B×M: (shape, left scale, right scale)."""
    neg, pos = (x < 0).double(), (x > 0).double()
    left = ((x * x * neg).sum(1) / neg.sum(1).clamp(min=1)).sqrt()
    right = ((x * x * pos).sum(1) / pos.sum(1).clamp(min=1)).sqrt()
    g = left / right.clamp(min=1e-12)
    rhat = x.abs().mean(1) ** 2 / (x * x).mean(1).clamp(min=1e-12)
    rnorm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    table = _RATIOS.to(x.device)
    i = torch.searchsorted(table, rnorm.contiguous()).clamp(1, len(table) - 1)
    nearer_left = (rnorm - table[i - 1]).abs() <= (table[i] - rnorm).abs()
    shape = _SHAPES.to(x.device)[i - nearer_left.long()]
    factor = torch.exp(0.5 * (torch.lgamma(1 / shape) - torch.lgamma(3 / shape)))
    return shape, left * factor, right * factor


def patch_features(coeffs: torch.Tensor, patch: int) -> torch.Tensor:
    """The 18 statistics of every P×P patch of MSCN coefficients N×1×H×W: N×K×18 (K patches per image)."""
    n = coeffs.shape[0]
    blocks = coeffs.unfold(2, patch, patch).unfold(3, patch, patch)  # N×1×kh×kw×P×P
    blocks = blocks.reshape(-1, patch, patch)
    flat = blocks.flatten(1)
    a, bl, br = aggd(flat)
    feats = [a, (bl + br) / 2]
    for shift in SHIFTS:
        prod = (blocks * torch.roll(blocks, shift, dims=(1, 2))).flatten(1)
        a, bl, br = aggd(prod)
        mean = (br - bl) * torch.exp(torch.lgamma(2 / a) - torch.lgamma(1 / a))
        feats += [a, mean, bl, br]
    return torch.stack(feats, 1).reshape(n, -1, 18)


def _luminance(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    if x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif x.shape[1] != 1:
        raise InputError(f"NIQE takes gray (1-channel) or RGB (3-channel) images, got {x.shape[1]} channels.")
    return x * 255


def niqe_features(x: torch.Tensor, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(features N×K×36 of the K P×P patches of each image, sharpness N×K), in float64."""
    gray = _luminance(x)
    h, w = (gray.shape[-2] // patch) * patch, (gray.shape[-1] // patch) * patch
    gray = gray[..., :h, :w]
    c1 = mscn(gray)
    half = F.interpolate(gray, scale_factor=0.5, mode="bicubic", antialias=True, align_corners=False)
    c2 = mscn(half)
    feats = torch.cat([patch_features(c1, patch), patch_features(c2, patch // 2)], 2)
    # Sharpness of a patch: its mean local standard deviation σ, from the MSCN denominator.
    w_ = _gaussian_window(gray.device)
    pad = F.pad(gray, (3, 3, 3, 3), mode="replicate")
    mu = F.conv2d(pad, w_)
    sigma = (F.conv2d(pad * pad, w_) - mu * mu).abs().sqrt()
    sharp = sigma.unfold(2, patch, patch).unfold(3, patch, patch).mean((-1, -2)).reshape(x.shape[0], -1)
    return feats, sharp


def _gaussian_fit(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu = f.mean(0)
    centred = f - mu
    cov = centred.T @ centred / max(f.shape[0] - 1, 1)
    return mu, cov


def _take_saved_shapes(module: NIQE, state_dict: dict, prefix: str, *args: object) -> None:
    """An unfitted NIQE has empty buffers: give them the saved model's shapes before loading."""
    for name in ("mu", "cov"):
        saved = state_dict.get(prefix + name)
        if saved is not None:
            setattr(module, name, torch.empty_like(saved, device=getattr(module, name).device))


@functools.lru_cache(maxsize=4)
def _builtin_model(patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The pristine model fitted on `BUILTIN_CORPUS`, once per process and patch size."""
    from ..data import load_images

    model = NIQE(patch, corpus=None).fit(load_images([f"builtin:{n}" for n in BUILTIN_CORPUS], size=BUILTIN_SIZE))
    return model.mu, model.cov


class NIQE(Critic):
    """NIQE with a pristine model fitted in rdpkit (see the module docstring); lower is better.

    `patch` is the patch side P (96 in the paper); images must be at least P×P. With
    `corpus="builtin"` (default) the model is fitted on `BUILTIN_CORPUS` at first use;
    with `corpus=None` it stays unfitted until `fit(images)`, and scoring raises. The fitted
    model lives in the buffers `mu` and `cov`, so `state_dict()` saves and loads it.
    """

    #: What `features` returns, for divergences that label their feature space.
    feature_kind = "niqe-nss"

    def __init__(self, patch: int = 96, corpus: str | None = "builtin") -> None:
        super().__init__()
        if patch < 8 or patch % 2:
            raise InputError(f"patch must be an even number of pixels, at least 8, got {patch}.")
        if corpus not in ("builtin", None):
            raise InputError(f"corpus must be 'builtin' (scikit-image's photographs) or None (call fit(images) yourself), got {corpus!r}.")
        self.patch = patch
        self.min_size = patch
        self.corpus = corpus
        self.register_buffer("mu", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("cov", torch.zeros(0, 0, dtype=torch.float64))
        self.register_load_state_dict_pre_hook(_take_saved_shapes)

    @property
    def fitted(self) -> bool:
        return self.mu.numel() > 0

    def fit(self, images: torch.Tensor, *, sharpness: float = SHARPNESS_THRESHOLD) -> NIQE:
        """Fit the pristine model on a batch of undistorted images (at least P×P); returns self.

        Only patches at least `sharpness` times as sharp as their image's sharpest patch are used.
        """
        check_images(images, "images", min_size=self.patch)
        feats, sharp = niqe_features(images, self.patch)
        keep = sharp >= sharpness * sharp.max(1, keepdim=True).values
        chosen = feats[keep]
        if chosen.shape[0] < 2:
            raise InputError(f"only {chosen.shape[0]} patch(es) of {self.patch}×{self.patch} pixels qualified as pristine; give more or larger images.")
        mu, cov = _gaussian_fit(chosen)
        self.mu, self.cov = mu.to(self.mu.device), cov.to(self.mu.device)
        return self

    def _ensure_fitted(self) -> None:
        if self.fitted:
            return
        if self.corpus is None:
            raise InputError("this NIQE has no pristine model yet; call fit(images) on undistorted images, or build it with corpus='builtin'.")
        mu, cov = _builtin_model(self.patch)
        self.mu, self.cov = mu.to(self.mu.device), cov.to(self.mu.device)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The mean patch statistics of each image, N×36 (a weight-free feature extractor)."""
        check_images(x, "x", min_size=self.patch)
        return niqe_features(x, self.patch)[0].mean(1).to(x.dtype)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        self._ensure_fitted()
        feats, _ = niqe_features(x, self.patch)
        out = []
        for f in feats:
            mu, cov = _gaussian_fit(f) if f.shape[0] > 1 else (f[0], torch.zeros_like(self.cov))
            d = self.mu - mu
            out.append(torch.sqrt(d @ torch.linalg.pinv((self.cov + cov) / 2, hermitian=True) @ d))
        return torch.stack(out).to(x.dtype)
