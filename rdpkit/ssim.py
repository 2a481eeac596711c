"""SSIM (Wang et al. 2004) and MS-SSIM (Wang et al. 2003), batched and differentiable.

Conventions follow the references users compare against: an 11×11 Gaussian window with
σ = 1.5 (scikit-image's `gaussian_weights=True, sigma=1.5`, truncated at 3.5σ), K1 = 0.01,
K2 = 0.03, 'valid' filtering (the border of 5 pixels that scikit-image crops away is never
computed), the mean over pixels and then over channels. MS-SSIM follows pytorch_msssim:
five scales, 2×2 average pooling, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), and
negative contrast-structure terms clipped at 0.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

WIN_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@functools.lru_cache(maxsize=32)
def _window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).to(device=device, dtype=dtype)


def _filter(maps: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter over the last two dimensions of B×1×H×W."""
    k = win.numel()
    maps = F.conv2d(maps, win.view(1, 1, k, 1))
    return F.conv2d(maps, win.view(1, 1, 1, k))


def ssim_components(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = WIN_SIZE, sigma: float = SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean SSIM and mean contrast-structure term, each N×C."""
    n, c, h, w = x.shape
    win = _window(win_size, sigma, x.device, x.dtype)
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=2).reshape(n * c * 5, 1, h, w)
    mu_x, mu_y, xx, yy, xy = _filter(stack, win).reshape(n, c, 5, h - win_size + 1, w - win_size + 1).unbind(2)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_xy = mu_x * mu_y
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    cs_map = (2 * (xy - mu_xy) + c2) / ((xx - mu_xx) + (yy - mu_yy) + c2)
    ssim_map = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return ssim_map.mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image (N), channels averaged."""
    return ssim_components(x, y, data_range)[0].mean(dim=1)


def ms_ssim_min_size(win_size: int = WIN_SIZE, levels: int = len(MS_WEIGHTS)) -> int:
    """The smallest side MS-SSIM accepts: the window must fit at the coarsest scale."""
    return (win_size - 1) * 2 ** (levels - 1) + 1


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, weights: tuple[float, ...] = MS_WEIGHTS) -> torch.Tensor:
    """MS-SSIM per image (N), channels averaged."""
    w = torch.tensor(weights, dtype=x.dtype, device=x.device)
    terms = []
    for level in range(len(weights)):
        s, cs = ssim_components(x, y, data_range)
        if level < len(weights) - 1:
            terms.append(torch.relu(cs))
            pad = [x.shape[-2] % 2, x.shape[-1] % 2]
            x = F.avg_pool2d(x, 2, padding=pad)
            y = F.avg_pool2d(y, 2, padding=pad)
    terms.append(torch.relu(s))
    per_channel = torch.prod(torch.stack(terms, dim=0) ** w.view(-1, 1, 1), dim=0)
    return per_channel.mean(dim=1)
