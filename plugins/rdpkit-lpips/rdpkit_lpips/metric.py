"""LPIPS (Zhang, Isola, Efros, Shechtman & Wang, CVPR 2018) through the lpips package.

The calibrated linear layers ship inside the lpips package; they are checked against the
sha256 of lpips 0.1.4's files before lpips reads them. The ImageNet backbone comes from
torchvision through the torch hub cache. This module reads it itself rather than through
torchvision, which would unpickle the file with ``weights_only=False`` and, for a file
already in the cache, skip the sha256 prefix its name carries: here a missing file is one
sentence at once instead of a download attempt, and a file that fails its hash, holds
anything but tensors or holds NaN/Inf is refused. ``pretrained=False`` keeps the calibrated
linear layers on a randomly initialised backbone (seeded, so reproducible): a baseline
that needs no download, and an instructive one in the reference-recovery test.
"""

from __future__ import annotations

import os
import warnings
from typing import ClassVar
from urllib.parse import urlparse

import torch

import rdpkit
from rdpkit.weights import check_finite, load_tensors, sha256

#: sha256 of the calibrated linear layers, lpips/weights/v0.1/<net>.pth, as lpips 0.1.4 ships them.
LINEAR_SHA256 = {
    "alex": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "vgg": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    "squeeze": "4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76",
}
BACKBONE_NAMES = {"alex": "AlexNet", "vgg": "VGG16", "squeeze": "SqueezeNet 1.1"}


def backbone_url(net: str) -> str:
    """Where torchvision publishes the ImageNet weights of lpips' backbone `net`."""
    from torchvision.models import AlexNet_Weights, SqueezeNet1_1_Weights, VGG16_Weights

    weights = {"alex": AlexNet_Weights, "vgg": VGG16_Weights, "squeeze": SqueezeNet1_1_Weights}[net]
    return weights.IMAGENET1K_V1.url


def backbone_file(net: str) -> str:
    """The path torchvision reads the backbone weights from (present or not)."""
    url = backbone_url(net)
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))


def _check_linear_layers(net: str) -> None:
    import lpips

    path = os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", f"{net}.pth")
    if not os.path.isfile(path) or sha256(path) != LINEAR_SHA256[net]:
        raise rdpkit.WeightsUnavailable(
            f"lpips-{net} needs the linear layers {path!r} with the sha256 {LINEAR_SHA256[net][:12]}… of lpips 0.1.4, "
            "but the file is missing, damaged or replaced; reinstall lpips with pip install --force-reinstall 'lpips>=0.1.4,<0.2'."
        )


def _backbone_state(net: str, download: bool) -> dict[str, torch.Tensor]:
    """The ImageNet backbone's state dict from the torch hub cache, checked; fetched first when `download`."""
    path, url = backbone_file(net), backbone_url(net)
    name, folder = os.path.basename(path), os.path.dirname(path)
    found = torch.hub.HASH_REGEX.search(name)
    prefix = found.group(1) if found else ""
    if not os.path.isfile(path):
        if not download:
            raise rdpkit.WeightsUnavailable(
                f"lpips-{net} needs the ImageNet backbone weights file {name!r}, which is not in {folder}; put it there "
                f"(it is published at {url}), or create the metric with download=True to fetch it or pretrained=False for a random backbone."
            )
        os.makedirs(folder, exist_ok=True)
        torch.hub.download_url_to_file(url, path, hash_prefix=prefix or None)
    what = f"lpips-{net}"
    state = load_tensors(path, what, map_location="cpu")  # checks the digest in the name first
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise rdpkit.WeightsUnavailable(f"lpips-{net} cannot use {name!r} in {folder}: it is not a state dict of tensors; delete it and put the file published at {url} there.")
    check_finite(what, state)
    return state


class LPIPS(rdpkit.Distortion):
    """LPIPS v0.1 distance: 0 at x̂ = x, larger for perceptually farther images."""

    net: ClassVar[str]

    def __init__(self, pretrained: bool = True, download: bool = False, seed: int = 0) -> None:
        super().__init__()
        import lpips

        _check_linear_layers(self.net)
        state = _backbone_state(self.net, download) if pretrained else None
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            torch.manual_seed(seed)
            # lpips still passes torchvision's deprecated `pretrained=` argument.
            warnings.simplefilter("ignore", UserWarning)
            # Always built on a random backbone: the ImageNet weights are loaded below, from the checked state.
            self.model = lpips.LPIPS(net=self.net, pnet_rand=True, verbose=False)
        if state is not None:
            self._load_backbone(state)
        self.model.eval().requires_grad_(False)

    def _load_backbone(self, state: dict[str, torch.Tensor]) -> None:
        # lpips splits torchvision's `features` into slices that keep the layers' indices:
        # its `slice2.3.weight` is torchvision's `features.3.weight`.
        target = self.model.net.state_dict()
        mapped = {key: state.get("features." + key.split(".", 1)[1]) for key in target}
        wrong = next((k for k, v in mapped.items() if v is None or v.shape != target[k].shape), None)
        if wrong is not None:
            raise rdpkit.WeightsUnavailable(
                f"lpips-{self.net} cannot use {os.path.basename(backbone_file(self.net))!r}: it is not {BACKBONE_NAMES[self.net]}'s ImageNet weights "
                f"(features.{wrong.split('.', 1)[1]} is missing or has another shape); delete it and put the file published at {backbone_url(self.net)} there."
            )
        self.model.net.load_state_dict(mapped)

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            fix = "drop the alpha channel with x[:, :3]" if x.shape[1] == 4 else "convert them to RGB"
            raise rdpkit.InputError(f"lpips-{self.net} takes RGB images (3 channels; grey ones count as three equal channels), got {x.shape[1]}; {fix}.")
        dtype = next(self.model.parameters()).dtype
        d = self.model(x.to(dtype), x_hat.to(dtype), normalize=True)
        return d.reshape(x.shape[0]).to(x.dtype)


class LPIPSAlex(LPIPS):
    net = "alex"
    min_size = 31


class LPIPSVGG(LPIPS):
    net = "vgg"
    min_size = 16


class LPIPSSqueeze(LPIPS):
    net = "squeeze"
    min_size = 17
