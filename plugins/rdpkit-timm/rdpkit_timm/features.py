"""A deep-feature distortion on any timm backbone (Johnson, Alahi & Fei-Fei, ECCV 2016).

Blau & Michaeli (ICML 2019, eq. 11) write it as Δ(x, x̂) = ||x − x̂||² + α ||Ψ(x) − Ψ(x̂)||²,
with Ψ the activations of a pretrained network. Here each squared norm is the mean over its
elements (pixels, or the features of one layer) and the feature term sums over the chosen
layers, so α does not depend on the image size; Δ(x, x) = 0 and Δ ≥ 0 hold exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

import rdpkit
from rdpkit.weights import check_finite

from .weights import cached_weights, load_failure


class DeepFeatures(rdpkit.Distortion):
    """MSE in pixels plus α times the MSE of backbone features, summed over `layers`."""

    def __init__(
        self,
        backbone: str = "resnet18",
        layers: Sequence[int] = (1, 2, 3),
        alpha: float = 1.0,
        pretrained: bool = True,
        download: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        import timm

        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise rdpkit.InputError(f"alpha must be a finite number ≥ 0, got {alpha!r}.")
        if not timm.is_model(backbone):
            hint = rdpkit.errors.suggestion(backbone, timm.list_models())
            raise rdpkit.InputError(f"timm has no backbone {backbone!r}; " + (hint or "timm.list_models() lists them."))
        layers = tuple(int(i) for i in ([layers] if isinstance(layers, int) else layers))
        if not layers:
            raise rdpkit.InputError("layers must name at least one feature level, e.g. layers=(1, 2, 3).")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            # Built random first: that resolves the default weights tag and tells us the levels.
            model = timm.create_model(backbone, pretrained=False, features_only=True)
        levels = len(model.feature_info)
        bad = [i for i in layers if not 0 <= i < levels]
        if bad:
            raise rdpkit.InputError(f"backbone {backbone!r} has feature levels 0 to {levels - 1}, got layers={layers}; pick levels in that range.")
        cfg = model.pretrained_cfg
        if pretrained:
            overlay = None if download else {"file": cached_weights(backbone, cfg)}
            try:
                model = timm.create_model(backbone, pretrained=True, features_only=True, out_indices=layers, pretrained_cfg_overlay=overlay)
            except Exception as exc:  # safetensors, torch.load and load_state_dict errors alike mean an unusable file
                if overlay is None:
                    raise
                raise load_failure(backbone, overlay["file"], exc) from None
            check_finite(f"timm backbone {backbone!r}", model)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = timm.create_model(backbone, pretrained=False, features_only=True, out_indices=layers)
        self.model = model.eval().requires_grad_(False)
        self.alpha = float(alpha)
        self.layers = layers
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, -1, 1, 1))

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.model((x.to(self.mean.dtype) - self.mean) / self.std)

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise rdpkit.InputError(f"timm backbones take RGB or gray images, got {x.shape[1]} channels; convert the images to RGB.")
        n = x.shape[0]
        pixels = (x - x_hat).pow(2).flatten(1).mean(1)
        both = self._features(torch.cat([x, x_hat]))
        feats = sum(((f[:n] - f[n:]).pow(2).flatten(1).mean(1) for f in both), torch.zeros(n, device=x.device))
        return pixels + self.alpha * feats.to(x.dtype)
