"""The PIM model (Bhardwaj et al., NeurIPS 2020): multi-scale frontend, marginal and joint encoders.

- **Frontend** f: a Laplacian pyramid (two band-pass levels and the low-pass residual by
  default), each level followed by its own small convolutional network. The pyramid gives
  the representation its approximate scale equivariance, the convolutions its translation
  equivariance.
- **Marginal encoder** q(z | ·): per scale, a per-location network (1×1 convolutions) that
  maps the frontend's features of one image to a diagonal Gaussian over z at every location.
- **Joint encoder** p(z | x, y): the same kind of network on the features of both images; it
  is needed only by the training objective (`rdpkit_pim.objective`).

The distance between two images is the symmetrised KL divergence between q(z | x) and
q(z | y), averaged over the locations of each scale and then over the scales.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .gaussian import symmetrised_kl

# Binomial 5-tap filter of Burt & Adelson's Laplacian pyramid.
_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)
# Fixed gains that bring the pyramid's levels of natural images to about unit spread, so
# that the networks start in their working range (band-pass levels have a spread of a few
# hundredths of the [0, 1] range, the centred low-pass residual about a quarter).
BAND_GAIN, LOWPASS_GAIN = 8.0, 2.0
# Lower bound on the log-variance of every encoder: σ ≥ e^(−3) ≈ 0.05, which keeps the
# symmetrised KL (it divides by variances) from growing without bound during training.
LOGVAR_MIN = -6.0

Gaussians = list[tuple[torch.Tensor, torch.Tensor]]  # per scale: (mean, logvar), each N×H×W×d


@dataclass(frozen=True)
class Config:
    """Architecture of a PIM model; stored in every checkpoint."""

    scales: int = 3
    channels: int = 16  # width of each scale's convolutional network
    features: int = 16  # frontend output channels per scale
    hidden: int = 32  # width of the encoders' per-location networks
    z_dim: int = 8

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in d.items() if k in known})

    @property
    def min_size(self) -> int:
        """Smallest image side: the coarsest level must keep 4 pixels for the 5×5 filters."""
        return 4 * 2 ** (self.scales - 1)


def _blur_down(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = torch.tensor(_BINOMIAL, dtype=x.dtype, device=x.device) / 16
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return x[..., ::2, ::2]


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """`levels` − 1 band-pass images, finest first, then the low-pass residual (scaled by the gains above)."""
    bands = []
    for _ in range(levels - 1):
        low = _blur_down(x)
        bands.append(BAND_GAIN * (x - F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False)))
        x = low
    bands.append(LOWPASS_GAIN * (x - 0.5))  # centred, like the band-pass levels
    return bands


def _scale_network(cfg: Config) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, cfg.channels, 5, padding=2, padding_mode="reflect"),
        nn.GELU(),
        nn.Conv2d(cfg.channels, cfg.channels, 3, padding=1, padding_mode="reflect"),
        nn.GELU(),
        nn.Conv2d(cfg.channels, cfg.features, 1),
    )


def _location_network(cfg: Config, inputs: int) -> nn.Sequential:
    """A per-location MLP (1×1 convolutions) giving a mean and a raw log-variance per location."""
    return nn.Sequential(
        nn.Conv2d(inputs, cfg.hidden, 1),
        nn.GELU(),
        nn.Conv2d(cfg.hidden, cfg.hidden, 1),
        nn.GELU(),
        nn.Conv2d(cfg.hidden, 2 * cfg.z_dim, 1),
    )


def _as_gaussian(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder's output N×2d×H×W as (mean, log-variance), each N×H×W×d."""
    mean, raw = out.permute(0, 2, 3, 1).chunk(2, dim=-1)
    return mean, LOGVAR_MIN + F.softplus(raw - LOGVAR_MIN)


class PIMModel(nn.Module):
    """Frontend, marginal encoder and joint encoder; images are N×3×H×W in [0, 1]."""

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        cfg = self.config
        self.frontend = nn.ModuleList(_scale_network(cfg) for _ in range(cfg.scales))
        self.marginal_encoder = nn.ModuleList(_location_network(cfg, cfg.features) for _ in range(cfg.scales))
        self.joint_encoder = nn.ModuleList(_location_network(cfg, 2 * cfg.features) for _ in range(cfg.scales))
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):  # variance-preserving start: encodings of distinct inputs start distinct
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """f(x): one feature map per scale, finest first."""
        return [net(band) for net, band in zip(self.frontend, laplacian_pyramid(x, self.config.scales))]

    def marginal(self, scale: int, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | ·) at every location of one scale's features (N×C×H×W; also M×C×1×1 for M chosen locations)."""
        return _as_gaussian(self.marginal_encoder[scale](feats))

    def joint(self, scale: int, feats_x: torch.Tensor, feats_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z | x, y) at every location of one scale, from both images' features."""
        return _as_gaussian(self.joint_encoder[scale](torch.cat([feats_x, feats_y], 1)))

    def encode(self, x: torch.Tensor) -> Gaussians:
        """q(z | x) at every location and scale."""
        return [self.marginal(s, f) for s, f in enumerate(self.features(x))]

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Symmetrised KL between q(z | x) and q(z | y), mean over locations, then over scales: shape [N]."""
        n = x.shape[0]
        per_scale = [  # one pass over both batches; no layer mixes the images of a batch
            symmetrised_kl(mean[:n], logvar[:n], mean[n:], logvar[n:]).flatten(1).mean(1)
            for mean, logvar in self.encode(torch.cat([x, y]))
        ]
        return torch.stack(per_scale).mean(0)
