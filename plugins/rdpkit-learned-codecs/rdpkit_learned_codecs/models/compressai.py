"""CompressAI's checkpoints of bmshj2018-factorized, bmshj2018-hyperprior and mbt2018-mean, loaded without CompressAI.

The transforms here are laid out as CompressAI's (networks/transforms.py), so most names map to
themselves; what differs is the entropy models' (three generations of CompressAI's
EntropyBottleneck naming, ``_biases.0`` → ``_bias0`` → ``biases.0``, become ``biases.0`` under
``prior.`` or ``hyperprior.``; ``gaussian_conditional.scale_table`` becomes
``conditional.scale_table``). CompressAI's own CDF buffers, quantiles and reparametrization
constants are left behind: rdpkit computes its integer tables from the weights (entropy/tables.py).

The zoo's files are looked for where CompressAI's zoo leaves them, torch hub's cache
(``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``); nothing is
ever downloaded; a zoo file whose content does not start with the digest in its name is
refused, as are pickled objects and non-finite weights. The file names come from CompressAI 1.2.8 (data/compressai_params.json,
written by scripts/compressai_param_names.py).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import torch

from rdpkit.errors import InputError, WeightsUnavailable

from .config import COMPRESSAI_LAMBDAS, ModelConfig

ARCHITECTURES = {("factorized", False): "bmshj2018-factorized", ("hyperprior", False): "bmshj2018-hyperprior", ("hyperprior", True): "mbt2018-mean"}
_DROPPED = re.compile(r"(_quantized_cdf|_cdf_length|_offset|quantiles|target|\.bound|pedestal|scale_bound)$")
_BOTTLENECK = re.compile(r"^entropy_bottleneck\.(?:_?(matrices|biases|factors)\.(\d+)|_(matrix|bias|factor)(\d+))$")
_PLURAL = {"matrix": "matrices", "bias": "biases", "factor": "factors"}


@cache
def names() -> dict[str, Any]:
    """CompressAI's parameter names and shapes per architecture and quality, and its zoo's file names."""
    return json.loads((Path(__file__).parents[1] / "data" / "compressai_params.json").read_text())


def hub_folder() -> Path:
    """Where torch hub (and so CompressAI's zoo) keeps downloaded checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def zoo_file(kind: str, mean: bool, quality: int) -> Path:
    """The torch hub cache path of CompressAI's MSE-trained model of this architecture and quality (it may be missing)."""
    arch = ARCHITECTURES[(kind, mean)]
    entry = names()["architectures"][arch].get(str(quality))
    if entry is None:
        raise InputError(f"CompressAI's {arch} has qualities 1 to {len(names()['architectures'][arch])}, got quality={quality!r}.")
    return hub_folder() / entry["file"]


def map_state(state: dict[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    """CompressAI's state dict (any of its naming generations) → rdpkit's names; unknown entries are refused."""
    prior = "prior" if kind == "factorized" else "hyperprior"
    out, unknown = {}, []
    for key, value in state.items():
        key = key.removeprefix("module.")  # saved from DataParallel
        if _DROPPED.search(key):
            continue
        m = _BOTTLENECK.match(key)
        if m:
            group, index = (m.group(1), m.group(2)) if m.group(1) else (_PLURAL[m.group(3)], m.group(4))
            out[f"{prior}.{group}.{index}"] = value
        elif key == "gaussian_conditional.scale_table" and kind == "hyperprior":
            out["conditional.scale_table"] = value
        elif key.startswith(("g_a.", "g_s.")) or (kind == "hyperprior" and key.startswith(("h_a.", "h_s."))):
            out[key] = value
        else:
            unknown.append(key)
    if unknown:
        raise InputError(f"the checkpoint has entries a CompressAI {kind} model does not ({', '.join(unknown[:4])}{', ...' if len(unknown) > 4 else ''}); it is another architecture, load it with the codec of that architecture.")
    return out


def config_of(state: dict[str, torch.Tensor], kind: str, lam: float) -> ModelConfig:
    """N, M and the mean-scale flag from a mapped state's shapes."""
    try:
        n, m = int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0])
        mean = kind == "hyperprior" and int(state["h_s.4.weight"].shape[0]) == 2 * m
    except KeyError as exc:
        raise InputError(f"the checkpoint lacks {exc.args[0]!r}, so it is not a CompressAI {kind} model; give a bmshj2018 or mbt2018-mean checkpoint.") from None
    return ModelConfig(kind, n, m, (lam,), mean)


def read(path: str | Path) -> dict[str, torch.Tensor]:
    """A CompressAI checkpoint's state dict (a training checkpoint's "state_dict" entry too), through rdpkit.weights:
    tensors only (weights_only), a file named by a digest (as the zoo's are) checked against it, finite weights."""
    from rdpkit.weights import check_finite, load_tensors, regular_file

    path = regular_file(path, "the CompressAI checkpoint", fix="give the checkpoint file", written_by="torch.save(model.state_dict(), PATH)", kind="checkpoint")
    what = f"the CompressAI checkpoint {path.name!r}"
    data = load_tensors(path, what, map_location="cpu")
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not (isinstance(data, dict) and data and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items())):
        raise InputError(f"{str(path)!r} is not a state dict (names → tensors); save the model's state_dict().")
    check_finite(what, data)
    return data


def load_zoo(kind: str, mean: bool, quality: int) -> tuple[ModelConfig, dict[str, torch.Tensor], Path]:
    """CompressAI's zoo model of this architecture and quality, from the torch hub cache only."""
    path = zoo_file(kind, mean, quality)
    if not path.is_file():
        raise WeightsUnavailable(f"CompressAI's {ARCHITECTURES[(kind, mean)]} quality {quality} file {path.name!r} is not in {str(path.parent)!r}; "
                                 f"put it there (CompressAI's zoo downloads it there with pretrained=True), or pass weights=PATH.")
    state = map_state(read(path), kind)
    return config_of(state, kind, COMPRESSAI_LAMBDAS[quality - 1]), state, path
