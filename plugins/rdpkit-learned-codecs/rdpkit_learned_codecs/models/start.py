"""Where a hific codec's training starts: a distortion-only model, as HiFiC starts from its MSE-trained codec.

A start is the shipped hyperprior (``"shipped"``), a hyperprior model file (written by
`rdpkit learned-codecs train --kind hyperprior` or `codec.save`), or a hific model file (one
trained with λ_p = 0, say). A variable-rate hyperprior is taken at one of its rates
(`quality`): that rate's per-channel gain is folded into the last layer of g_a and its
inverse into the first layer of g_s, which gives a single-rate model coding exactly that rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError
from rdpkit.weights import sha256

from .config import ModelConfig
from .hific_config import distortion_component
from .storage import load_model
from .zoo import shipped

#: The layers the gains are folded into: g_a's last convolution and g_s's first transposed one.
LAST_ANALYSIS, FIRST_SYNTHESIS = "g_a.6", "g_s.0"


@dataclass(frozen=True)
class Start:
    """A single-rate hyperprior state to initialise from, and where it came from (file, sha256, rate)."""

    config: ModelConfig
    state: dict[str, torch.Tensor]
    description: dict[str, object]

    def options(self, given: dict[str, Any]) -> dict[str, Any]:
        """A hific codec's options `given`, with this start's architecture (and its λ as λ_d, for an MSE loss) filled in."""
        sc = self.config
        fixed = {"channels": sc.channels, "latent_channels": sc.latent_channels, "mean": sc.mean}
        for key, value in fixed.items():
            if key in given and given[key] != value:
                raise InputError(f"{key}={given[key]!r} differs from the start's {key}={value!r}; leave it out, the start sets it.")
        out = {**given, **fixed}
        if "lam_d" not in out and distortion_component(out.get("distortion", "mse")) == "mse":
            out["lam_d"] = sc.lams[0] * 255**2  # the start's own trade-off: its loss was λ·255²·MSE + bpp
        return out


def load_start(start: str | Path, quality: int | None) -> Start:
    """The start `start` names, at rate `quality` (required for a variable-rate start, 1-based)."""
    from .hific_files import is_hific_file, load_hific

    if not isinstance(start, (str, Path)):
        raise InputError(f"start must be 'shipped' or the path of a hyperprior or hific model file, got {start!r}.")
    if start == "shipped":
        path, digest = shipped("hyperprior")
        config, state = load_model(path, digest, fix="reinstall rdpkit-learned-codecs")
        where = f"shipped:{path.name}"
    elif is_hific_file(start):
        hific, state = load_hific(start)
        if quality not in (None, 1):
            raise InputError(f"the hific model {str(start)!r} codes one rate; leave quality out to start from it.")
        config = hific.model_config()
        return Start(config, state, {"start": str(start), "sha256": sha256(start), "kind": "hific", "lam_p": hific.lam_p})
    else:
        path = Path(start)
        config, state = load_model(path)
        where = str(path)
    if config.kind != "hyperprior":
        raise InputError(f"{where!r} holds a {config.kind} model; a hific codec starts from a hyperprior (or hific) model.")
    if quality is None and config.rates > 1:
        raise InputError(f"{where!r} is a variable-rate model with {config.rates} rates; pass quality=1..{config.rates} to say which to start from.")
    q = 1 if quality is None else check_int(quality, 1, config.rates, "quality")
    state = _fold(config, state, q - 1)
    lam = config.lams[q - 1]
    single = ModelConfig("hyperprior", config.channels, config.latent_channels, (lam,), config.mean)
    return Start(single, state, {"start": where, "sha256": sha256(path), "kind": "hyperprior", "quality": q, "lam": lam})


def _fold(config: ModelConfig, state: dict[str, torch.Tensor], rate: int) -> dict[str, torch.Tensor]:
    """The state of a variable-rate model as a single-rate one at `rate`, tables dropped (they are recomputed)."""
    out = {k: v.clone() for k, v in state.items() if k not in ("gain", "inverse_gain") and "table_" not in k.rsplit(".", 1)[-1]}
    if config.rates == 1:
        return out
    gain, inverse = state["gain"][rate].exp(), state["inverse_gain"][rate].exp()
    out[f"{LAST_ANALYSIS}.weight"] = out[f"{LAST_ANALYSIS}.weight"] * gain[:, None, None, None]
    out[f"{LAST_ANALYSIS}.bias"] = out[f"{LAST_ANALYSIS}.bias"] * gain
    out[f"{FIRST_SYNTHESIS}.weight"] = out[f"{FIRST_SYNTHESIS}.weight"] * inverse[:, None, None, None]
    return out
