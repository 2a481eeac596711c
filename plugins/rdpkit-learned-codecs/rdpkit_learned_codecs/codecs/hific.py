"""The rdpkit codec ``hific``: a HiFiC-style GAN-trained codec (Mentzer et al., NeurIPS 2020) on the hyperprior's bitstream.

    >>> import rdpkit
    >>> gan = rdpkit.codec("hific")                    # the shipped λ_p > 0 member
    >>> mse = rdpkit.codec("hific", lam_p=0)           # its distortion-only twin, at the same rate
    >>> x_hat = gan.decode(gan.encode(x).to_bytes(), seed=0)

    >>> codec = rdpkit.codec("hific", start="shipped", quality=1, lam_p=0.5, noise=0.5)
    >>> codec.fit("builtin:training", steps=3000)      # alternating D and G steps; processes=K: data-parallel

The encoder, hyper-prior and bitstream are the hyperprior codec's: the codec holds the same
`LatentCoder` (integer tables and an integer hyper-synthesis, so the same bytes give the same
ŷ on every machine). Only what turns ŷ into pixels differs: a generator, trained
with an adversarial loss against a patch discriminator conditioned on ŷ, and, with
``noise=α`` > 0, fed ŷ plus uniform noise drawn from the decode seed (the stochastic decoder
of Blau & Michaeli, ICML 2019, which perfect realism at low rates needs).

A codec comes from the shipped pair (no options, or ``quality``/``lam_p`` alone), from a file
(``weights=PATH``), or untrained, to `fit`: from scratch (``channels``, ``latent_channels``...)
or, as HiFiC does, from a distortion-only model (``start="shipped"``, the shipped hyperprior
at ``quality``, or ``start=PATH``, a hyperprior or hific model file).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import torch

from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError
from rdpkit.validation import usable_device

from ..models.hific_config import HificConfig, distortion_component
from ..models.hific_files import load_hific
from ..models.restore import restore
from ..models.start import Start, load_start
from ..models.storage import save_model
from ..models.zoo import DEFAULT_HIFIC_LAM_P, SHIPPED_HIFIC, shipped
from ..networks.hific_model import HificModel
from .latent_codec import LatentCodec
from .latent_coder import MAX_PIXELS


class HificCodec(LatentCodec):
    """See the module docstring; `HificConfig` documents the options."""

    KIND = "hific"
    perception_weight: ClassVar[str | None] = "lam_p"
    quick_fit: ClassVar[dict[str, Any]] = {"steps": 2, "batch_size": 2, "crop": 64, "progress": False}

    def __init__(self, lam_p: float | None = None, lam_d: float | None = None, distortion: Any = None, noise: float | None = None, target_bpp: float | None = None,
                 synthesis: str | None = None, synthesis_channels: int | None = None, blocks: int | None = None,
                 discriminator_channels: int | None = None, discriminator_layers: int | None = None,
                 discriminator_input: str | None = None, grid_weight: float | None = None, channels: int | None = None, latent_channels: int | None = None, mean: bool | None = None,
                 start: str | None = None, quality: int | None = None, weights: str | None = None, max_pixels: int = MAX_PIXELS) -> None:
        self.max_pixels = check_int(max_pixels, 1, 1 << 40, "max_pixels")
        options = {"lam_d": lam_d, "distortion": distortion, "noise": noise, "target_bpp": target_bpp, "synthesis": synthesis, "synthesis_channels": synthesis_channels,
                   "blocks": blocks, "discriminator_channels": discriminator_channels, "discriminator_layers": discriminator_layers,
                   "discriminator_input": discriminator_input, "grid_weight": grid_weight, "channels": channels, "latent_channels": latent_channels, "mean": mean}
        given = {k: v for k, v in options.items() if v is not None}
        self.model: HificModel | None = None
        self.coder = None
        self.history: list[dict[str, float]] = []
        self.replicas: list[str] = []
        self.train_seconds = 0.0
        self._start: Start | None = None
        self.rate_index = 0
        if weights is None and start is None and set(given) <= {"noise"}:
            weights = "shipped"  # quality, lam_p and noise alone choose a shipped model
        if weights is not None:
            noise_choice = given.pop("noise", 0.0) if weights == "shipped" else 0.0
            if given or start is not None:
                named = ", ".join([*given, *(["start"] if start is not None else [])])
                raise InputError(f"{named} cannot be set on a codec loaded from weights={weights!r}, which fix them; leave them out, or drop weights to train a new one.")
            self._load(weights, lam_p, quality, noise_choice)
        else:
            if start is not None:
                self._start = load_start(start, quality)
                given = self._start.options(given)
            elif quality not in (None, 1):
                raise InputError(f"quality={quality} picks the rate of a start or of the shipped models; a hific codec trained from scratch has one rate, so leave it out.")
            if given.get("distortion") is not None:
                given["distortion"] = distortion_component(given["distortion"])
            self.hific = HificConfig(**given, lam_p=DEFAULT_HIFIC_LAM_P if lam_p is None else lam_p)
            self.config = self.hific.model_config()
            self.source = "untrained" if self._start is None else f"start:{self._start.description['start']}"
        self.quality = 1 if quality is None else quality

    def _load(self, weights: str, lam_p: float | None, quality: int | None, noise: float) -> None:
        if not isinstance(weights, (str, Path)):
            raise InputError(f"weights must be 'shipped' or the path of a hific model file, got {weights!r}.")
        if weights == "shipped":
            path, digest = shipped(self.KIND, quality, lam_p, noise)
            config, state = load_hific(path, digest, fix="reinstall rdpkit-learned-codecs")
            source = f"shipped:{path.name}"
        else:
            config, state = load_hific(weights)
            source = str(weights)
            if lam_p is not None and float(lam_p) != config.lam_p:
                raise InputError(f"{str(weights)!r} was trained with lam_p={config.lam_p:g}, not {lam_p!r}; leave lam_p out to load it.")
            if quality not in (None, 1):
                raise InputError(f"{str(weights)!r} codes one rate; leave quality out.")
        self.hific, self.config = config, config.model_config()
        self.model, self.source = restore(partial(HificModel, config), state, source), source  # type: ignore[assignment]
        self._prepare()

    def _identity(self) -> HificConfig:
        return self.hific

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        """Whether decoding draws noise (noise > 0): then `seed` makes it reproducible."""
        return self.hific.noise > 0

    @property
    def learnable(self) -> bool:
        return self.source in ("untrained", "fit") or self.source.startswith("start:")

    @property
    def rate_settings(self) -> list[dict[str, Any]] | None:
        """The qualities shipped with this model's λ_p, its rate knob for `rdpkit.testing.check_codec` (a stochastic or
        file-loaded model has no siblings at other rates)."""
        if not self.source.startswith("shipped:") or self.hific.noise:
            return None
        return [{"quality": q, "lam_p": lam_p} for q, lam_p in sorted(SHIPPED_HIFIC) if lam_p == self.hific.lam_p]

    def __repr__(self) -> str:
        h = self.hific
        return f"HificCodec(N={h.channels}, M={h.latent_channels}, λ_p={h.lam_p:g}, λ_d={h.lam_d:g}, distortion={h.distortion}, synthesis={h.synthesis}, noise={h.noise:g}, {self.source})"

    def fit(self, data: Any, *, steps: int = 2000, batch_size: int = 8, crop: int = 128, lr: float = 1e-4, lr_d: float = 4e-4,
            seed: int = 0, device: str | torch.device | None = None, checkpoint: str | Path | None = None, resume: bool = True,
            progress: bool = True, amp: bool | None = None, processes: int = 1) -> HificCodec:
        """Train on random crops of `data` (an image source such as ``builtin:training``, or images); returns self.

        Alternating discriminator and codec steps (training/hific.py), on `device` (default: a
        GPU when there is one), deterministic under `seed` on the CPU, checkpointed every 100
        steps to `checkpoint` and resumed from it. `amp` (default: on a GPU) runs the generator
        and discriminator in bfloat16 autocast; the analysis and entropy models, which decide
        the bitstream, stay in float32. `processes` > 1 trains data-parallel in that many
        processes on this machine (one per GPU, or CPU processes with gloo), each computing
        batch_size / processes images per step; under torchrun, the group torchrun started.
        """
        from ..training import hific as training
        from ..training.transform import finish

        if not self.learnable:
            raise InputError(f"this hific codec was loaded ready to code ({self.source}); create an untrained one (start=... or channels=...) to train.")
        check_int(processes, 1, 1024, "processes")
        dev = torch.device(usable_device(device))
        schedule = training.HificSchedule(steps, batch_size, crop, lr, lr_d, dev.type == "cuda" if amp is None else amp)
        run = training.fit(self.hific, self._start, data, schedule, seed=seed, device=dev, checkpoint=checkpoint, resume=resume,
                           progress=progress, processes=processes)
        self.model = finish(run.model)  # type: ignore[assignment]
        self.history, self.replicas, self.train_seconds = run.history, run.replicas, run.seconds
        self.source = "fit"
        self._prepare()
        return self

    def save(self, path: str | Path, *, half: bool = False, record: dict[str, Any] | None = None) -> Path:
        """Write the model with its tables (safetensors) and a record with its sha256; `weights=PATH` loads it on any machine."""
        model = self._trained()
        info = record or {"saved_by": f"{type(self).__name__}.save", "source": self.source, "fingerprint": self.fingerprint}
        save_model(path, self.hific, model.state_dict(), info, half=half)  # type: ignore[arg-type]
        return Path(path)

    def _synthesise(self, y_hat: torch.Tensor, rate: int, seed: int | None) -> torch.Tensor:
        """G(ŷ + α·u): the noise is drawn on the CPU in float64, so the same seed gives the same noise on every device and precision."""
        if self.hific.noise:
            generator = torch.Generator()
            generator.manual_seed(seed) if seed is not None else generator.seed()
            y_hat = y_hat + self.hific.noise * (torch.rand(y_hat.shape, generator=generator, dtype=torch.float64) - 0.5)
        model = self._trained()
        return model.generate(y_hat.to(next(model.parameters())))  # type: ignore[attr-defined]
