"""The rdpkit codecs ``factorized`` and ``hyperprior``: learned transform codecs with real, portable bitstreams.

    >>> import rdpkit
    >>> codec = rdpkit.codec("hyperprior", quality=3)     # the shipped model at its third rate
    >>> bits = codec.encode(x)                            # any size, RGB (or grey) in [0, 1]
    >>> x_hat = codec.decode(bits.to_bytes())
    >>> codec.rate(x)                                     # bytes beside the model's own estimate

A codec is created from the shipped models (no options, or ``quality=`` alone: ready to code,
like ``rdpkit.codec("hific")``), untrained when given an architecture (``channels``,
``latent_channels``, ``lam`` or ``mean=true``; then `fit`), from CompressAI's zoo files in the
torch hub cache (``weights="compressai"``), or from a file (``weights=PATH``: one written by
`save` or `rdpkit learned-codecs train`, or a CompressAI state dict).

The bitstream is the `LatentCoder`'s (latent_coder.py): integer tables and an integer
hyper-synthesis, so the same bytes give the same ŷ everywhere; the codec turns ŷ into pixels
with the model's GDN synthesis g_s, after the inverse gain of the header's rate.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import torch

from rdpkit.bitstream import MAX_PIXELS
from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError, WeightsUnavailable
from rdpkit.validation import usable_device

from ..models import compressai
from ..models.config import ModelConfig, check_lams
from ..models.restore import restore
from ..models.storage import load_model, save_model
from ..models.zoo import shipped
from ..networks.codec_model import CodecModel
from .latent_codec import LatentCodec

DEFAULTS = {"channels": 128, "latent_channels": 192, "lam": 0.0067}


class TransformCodec(LatentCodec):
    """A transform codec of one kind (`KIND`); see the module docstring for how it is created."""

    KIND: ClassVar[str]
    quick_fit: ClassVar[dict[str, Any]] = {"steps": 2, "batch_size": 2, "crop": 64, "progress": False}

    def __init__(self, channels: int | None = None, latent_channels: int | None = None, lam: float | list[float] | None = None,
                 quality: int | None = None, weights: str | None = None, mean: bool = False, max_pixels: int = MAX_PIXELS) -> None:
        self.max_pixels = check_int(max_pixels, 1, 1 << 40, "max_pixels")
        given = {k: v for k, v in (("channels", channels), ("latent_channels", latent_channels), ("lam", lam)) if v is not None}
        if weights is None and not given and (quality is not None or not mean):
            # No architecture: the shipped model, at `quality` (default 1), ready to code; an architecture
            # (or mean=true, which no shipped model has) makes an untrained codec, where quality is the rate to code at after fit.
            weights = "shipped"
        self.model: CodecModel | None = None
        self.coder = None
        self.source = "untrained"
        self.history: list[dict[str, float]] = []
        if weights is None:
            opts = {**DEFAULTS, **given}
            self.config = ModelConfig(self.KIND, opts["channels"], opts["latent_channels"], check_lams(opts["lam"]), mean)
        else:
            if given:
                raise InputError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set by the loaded weights ({weights!r}); leave {'it' if len(given) == 1 else 'them'} out.")
            self._load(weights, mean, quality)
        self.quality = 1 if quality is None else quality
        # A CompressAI model has one rate; its quality chose the file.
        self.rate_index = 0 if self.source.startswith("compressai:") else check_int(self.quality, 1, self.config.rates, "quality") - 1

    # -- where the model comes from -------------------------------------------------------

    def _load(self, weights: str, mean: bool, quality: int | None) -> None:
        if not isinstance(weights, (str, Path)):
            raise InputError(f"weights must be 'shipped', 'compressai' or the path of a model file, got {weights!r}.")
        if weights == "shipped":
            if mean:
                raise WeightsUnavailable("no mean-scale hyperprior is shipped; train one with `rdpkit learned-codecs train --kind hyperprior --mean`, or use weights='compressai' for CompressAI's mbt2018-mean.")
            path, digest = shipped(self.KIND)
            if not digest:
                raise WeightsUnavailable(f"the shipped {self.KIND} model has no recorded sha256 in rdpkit_learned_codecs/models/zoo.py, so it cannot be verified; reinstall rdpkit-learned-codecs.")
            config, state = load_model(path, digest, fix="reinstall rdpkit-learned-codecs")
            self._adopt(config, state, f"shipped:{path.name}", check_tables=True)
        elif weights == "compressai":
            config, state, path = compressai.load_zoo(self.KIND, mean, check_int(1 if quality is None else quality, 1, 8, "quality"))
            self._adopt(config, state, f"compressai:{path.name}", check_tables=False)
        elif Path(weights).suffix == ".safetensors" or not Path(weights).is_file():
            config, state = load_model(weights)
            self._adopt(config, state, str(weights), check_tables=True)
        else:
            state = compressai.map_state(compressai.read(weights), self.KIND)
            self._adopt(compressai.config_of(state, self.KIND, DEFAULTS["lam"]), state, f"compressai:{Path(weights).name}", check_tables=False)
        if mean != self.config.mean:
            raise InputError(f"{str(weights)!r} holds a {'mean-scale' if self.config.mean else 'scale'} hyperprior; pass mean={str(self.config.mean).lower()} to load it.")

    def _adopt(self, config: ModelConfig, state: dict[str, torch.Tensor], source: str, *, check_tables: bool) -> None:
        """Build the model from a state, compute (or verify) its tables, and prepare its coder."""
        if config.kind != self.KIND:
            raise InputError(f"{source!r} holds a {config.kind} model, not a {self.KIND} one; load it with rdpkit.codec({config.kind!r}, weights=...).")
        self.model = restore(partial(CodecModel, config), state, source, check_tables=check_tables, again="save or convert it again")
        self.config, self.source = config, source
        self._prepare()

    def _identity(self) -> ModelConfig:
        return self.config

    @property
    def learnable(self) -> bool:
        """Only an untrained codec is trained before it codes; one loaded ready to code (the shipped model, weights=) is not."""
        return self.source == "untrained" or self.source == "fit"

    @property
    def rate_settings(self) -> dict[str, tuple[int, ...]] | None:
        """The shipped model's qualities, its rate knob for `rdpkit.testing.check_codec` (other models: a file or a fit has
        no siblings at other rates to build)."""
        return {"quality": tuple(range(1, self.config.rates + 1))} if self.source.startswith("shipped:") else None

    def __repr__(self) -> str:
        c = self.config
        return f"{type(self).__name__}(N={c.channels}, M={c.latent_channels}, λ={list(c.lams)}, quality={self.quality}, {self.source})"

    # -- training and files ---------------------------------------------------------------

    def fit(self, data: Any, *, steps: int = 10000, batch_size: int = 8, crop: int = 128, lr: float = 1e-4, seed: int = 0,
            device: str | torch.device | None = None, checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True) -> TransformCodec:
        """Train on random crops of `data` (an image source such as a folder or ``builtin:training``, or images), then compute the tables; returns self.

        On `device` (default: a GPU when there is one, else the CPU); deterministic under
        `seed` on the CPU. With `checkpoint`, the state is saved there every 100 steps and
        a run finds it again with `resume=True` (a finished run just reloads it).
        """
        from ..training.crops import Crops
        from ..training.transform import Schedule, finish, new_run, train

        if not self.learnable:
            raise InputError(f"this {self.KIND} codec was loaded ready to code ({self.source}); create an untrained one with its architecture (channels=, latent_channels=, lam=) to train.")
        dev = torch.device(usable_device(device))
        schedule = Schedule(steps=steps, batch_size=batch_size, crop=crop, lr=lr)
        crops = Crops.of(data)
        run = train(new_run(self.config, seed, dev, lr), crops, schedule, seed=seed, checkpoint=checkpoint, resume=resume, progress=progress)
        self.model, self.history, self.source = finish(run.model), run.history, "fit"
        self._prepare()
        return self

    def save(self, path: str | Path) -> Path:
        """Write the model with its tables (safetensors) and a record with its sha256; `weights=PATH` loads it on any machine."""
        save_model(path, self.config, self._trained().state_dict(), {"saved_by": f"{type(self).__name__}.save", "source": self.source, "fingerprint": self.fingerprint})
        return Path(path)

    def _synthesise(self, y_hat: torch.Tensor, rate: int, seed: int | None) -> torch.Tensor:
        model = self._trained()
        param = next(model.parameters())
        return model.reconstruct(y_hat.to(param), torch.full((y_hat.shape[0],), rate, device=param.device))


class FactorizedCodec(TransformCodec):
    """Ballé et al.'s factorized-prior codec (bmshj2018-factorized): options channels (N), latent_channels (M), lam, quality, weights."""

    KIND = "factorized"

    def __init__(self, channels: int | None = None, latent_channels: int | None = None, lam: float | list[float] | None = None,
                 quality: int | None = None, weights: str | None = None, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(channels, latent_channels, lam, quality, weights, False, max_pixels)


class HyperpriorCodec(TransformCodec):
    """The scale hyperprior (bmshj2018-hyperprior), or with mean=true the mean-scale hyperprior (mbt2018-mean)."""

    KIND = "hyperprior"
