"""Finding a timm backbone's pretrained weights in the local caches, without the network.

timm publishes most weights on the Hugging Face Hub (``model.safetensors`` or
``pytorch_model.bin`` in a ``timm/<model>`` repository) and older ones at a URL that the
torch hub caches. `cached_weights` looks in both caches and returns the file, which timm
then loads as a local file (``pretrained_cfg_overlay={"file": ...}``): no look-up, no
request, no timeout.

Neither cache checks a file once it is there, so `cached_weights` does: the Hugging Face
cache names each downloaded weights file (a blob) by its sha256, and the torch hub names
files with a sha256 prefix (``resnet18-5c106cde.pth``); a file whose content disagrees
with its name is refused (rdpkit.weights). `load_failure` turns what goes wrong while timm
reads the file into one sentence.
"""

from __future__ import annotations

import os
import pickle
from typing import Any
from urllib.parse import urlparse

import torch

import rdpkit
from rdpkit.weights import check_named_digest

HF_FILES = ("model.safetensors", "pytorch_model.bin")


def _verified(name: str, path: str) -> str:
    """`path`, once its content agrees with the sha256 its cache names it by (when it is named by one)."""
    check_named_digest(path, f"timm backbone {name!r}")
    return path


def load_failure(name: str, path: str, exc: BaseException) -> rdpkit.WeightsUnavailable:
    """One sentence for an error timm raised while reading the weights file `path`."""
    link: BaseException | None = exc
    while link is not None and not isinstance(link, pickle.UnpicklingError):
        link = link.__cause__ or link.__context__
    if link is not None:
        # timm's own message advises weights_only=False, the path that runs the file's code.
        return rdpkit.WeightsUnavailable(
            f"timm backbone {name!r} cannot use {path!r}: it holds Python objects besides tensors, which rdpkit does not unpickle "
            "because that can run code from the file; delete it and fetch it again, or create the metric with download=True."
        )
    return rdpkit.WeightsUnavailable(
        f"timm backbone {name!r}'s weights file {path!r} cannot be loaded ({type(exc).__name__}), so it is damaged or belongs to another model; "
        "delete it and fetch it again, or create the metric with download=True."
    )


def cached_weights(name: str, cfg: Any) -> str:
    """The cached weights file of timm model `name` with pretrained config `cfg`, or WeightsUnavailable."""
    import huggingface_hub
    import huggingface_hub.constants

    repo = getattr(cfg, "hf_hub_id", None) or (cfg.get("hf_hub_id") if isinstance(cfg, dict) else None)
    url = getattr(cfg, "url", None) or (cfg.get("url") if isinstance(cfg, dict) else None)
    if repo:
        hf_cache = huggingface_hub.constants.HF_HUB_CACHE
        filename = getattr(cfg, "hf_hub_filename", None)
        for file in (filename,) if filename else HF_FILES:
            found = huggingface_hub.try_to_load_from_cache(repo, file, cache_dir=hf_cache)
            if isinstance(found, str):
                return _verified(name, found)
        raise rdpkit.WeightsUnavailable(
            f"timm backbone {name!r} needs {filename or HF_FILES[0]!r} of the Hugging Face repository {repo!r}, which is not in "
            f"the Hugging Face cache {hf_cache}; fetch it there with `hf download {repo}`, "
            "or create the metric with download=True to fetch it or pretrained=False for a random backbone."
        )
    if url:
        path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))
        if os.path.isfile(path):
            return _verified(name, path)
        raise rdpkit.WeightsUnavailable(
            f"timm backbone {name!r} needs the weights file {os.path.basename(path)!r}, which is not in {os.path.dirname(path)}; "
            f"put it there (it is published at {url}), or create the metric with download=True to fetch it or pretrained=False for a random backbone."
        )
    raise rdpkit.WeightsUnavailable(f"timm publishes no pretrained weights for {name!r}; create the metric with pretrained=False for a random backbone.")
