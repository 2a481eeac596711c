"""The rdpkit codec ``hific``: a HiFiC-style GAN-trained codec (Mentzer et al., NeurIPS 2020) on the hyperprior's bitstream.

    >>> import rdpkit
    >>> gan = rdpkit.codec("hific")                    # the shipped λ_p > 0 member
    >>> mse = rdpkit.codec("hific", lam_p=0)           # its distortion-only twin, at the same rate
    >>> x_hat = gan.decode(gan.encode(x).to_bytes(), seed=0)

    >>> codec = rdpkit.codec("hific", start="shipped", quality=1, lam_p=0.5, noise=0.5)
    >>> codec.fit("builtin:training", steps=3000)      # alternating D and G steps; processes=K: data-parallel

The encoder, hyper-prior and bitstream are the hyperprior codec's (`LearnedCodec._code` and
`symbols`, unchanged: integer tables and an integer hyper-synthesis, so the same bytes give
the same ŷ on every machine). Only what turns ŷ into pixels differs: a generator, trained
with an adversarial loss against a patch discriminator conditioned on ŷ, and, with
``noise=α`` > 0, fed ŷ plus uniform noise drawn from the decode seed (the stochastic decoder
of Blau & Michaeli, ICML 2019, which perfect realism at low rates needs).

A codec comes from the shipped pair (no options, or ``quality``/``lam_p`` alone), from a file
(``weights=PATH``), or untrained, to `fit`: from scratch (``channels``, ``latent_channels``...)
or, as HiFiC does, from a distortion-only model (``start="shipped"``, the shipped hyperprior
at ``quality``, or ``start=PATH``, a hyperprior or hific model file).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch

from rdpkit.bitstream import Bitstream
from rdpkit.codecs.headers import header_dtype
from rdpkit.codecs.options import check_int
from rdpkit.errors import InputError
from rdpkit.validation import usable_device

from ..entropy import integer_net
from ..entropy.tables import distance, set_tables, stored_tables
from ..models.hific_config import HificConfig, distortion_component
from ..models.hific_files import load_hific
from ..models.start import Start, load_start
from ..models.storage import save_model, state_digest
from ..models.zoo import DEFAULT_HIFIC_LAM_P, shipped_hific
from ..networks.hific_model import HificModel
from .transform import (
    MAX_PIXELS,
    TABLE_TOLERANCE,
    LearnedCodec,
    _entropy_modules,
    _fixed,
)


class HificCodec(LearnedCodec):
    """See the module docstring; `HificConfig` documents the options."""

    KIND = "hific"
    perception_weight: ClassVar[str | None] = "lam_p"
    quick_fit: ClassVar[dict[str, Any]] = {"steps": 2, "batch_size": 2, "crop": 64, "progress": False}

    def __init__(self, lam_p: float | None = None, lam_d: float | None = None, distortion: Any = None, noise: float | None = None, target_bpp: float | None = None,
                 synthesis: str | None = None, synthesis_channels: int | None = None, blocks: int | None = None,
                 discriminator_channels: int | None = None, discriminator_layers: int | None = None,
                 channels: int | None = None, latent_channels: int | None = None, mean: bool | None = None,
                 start: str | None = None, quality: int | None = None, weights: str | None = None, max_pixels: int = MAX_PIXELS) -> None:
        self.max_pixels = check_int(max_pixels, 1, 1 << 40, "max_pixels")
        options = {"lam_d": lam_d, "distortion": distortion, "noise": noise, "target_bpp": target_bpp, "synthesis": synthesis, "synthesis_channels": synthesis_channels,
                   "blocks": blocks, "discriminator_channels": discriminator_channels, "discriminator_layers": discriminator_layers,
                   "channels": channels, "latent_channels": latent_channels, "mean": mean}
        given = {k: v for k, v in options.items() if v is not None}
        self.model: HificModel | None = None  # type: ignore[assignment]
        self.fingerprint = ""
        self.history: list[dict[str, float]] = []
        self.replicas: list[str] = []
        self.train_seconds = 0.0
        self._integer: list[integer_net.IntegerLayer] = []
        self._start: Start | None = None
        self.rate_index = 0
        if weights is None and start is None and not given:
            weights = "shipped"
        if weights is not None:
            if given or start is not None:
                named = ", ".join([*given, *(["start"] if start is not None else [])])
                raise InputError(f"{named} cannot be set on a codec loaded from weights={weights!r}, which fix them; leave them out, or drop weights to train a new one.")
            self._load(weights, lam_p, quality)
        else:
            if start is not None:
                self._start = load_start(start, quality)
                given = self._from_start(given)
            elif quality not in (None, 1):
                raise InputError(f"quality={quality} picks the rate of a start or of the shipped models; a hific codec trained from scratch has one rate, so leave it out.")
            if given.get("distortion") is not None:
                given["distortion"] = distortion_component(given["distortion"])
            self.hific = HificConfig(**given, lam_p=DEFAULT_HIFIC_LAM_P if lam_p is None else lam_p)
            self.config = self.hific.model_config()
            self.source = "untrained" if self._start is None else f"start:{self._start.description['start']}"
        self.quality = 1 if quality is None else quality

    def _from_start(self, given: dict[str, Any]) -> dict[str, Any]:
        """The options with the start's architecture (and its λ as λ_d, for an MSE loss) filled in."""
        assert self._start is not None
        sc = self._start.config
        fixed = {"channels": sc.channels, "latent_channels": sc.latent_channels, "mean": sc.mean}
        for key, value in fixed.items():
            if key in given and given[key] != value:
                raise InputError(f"{key}={given[key]!r} differs from the start's {key}={value!r}; leave it out, the start sets it.")
        out = {**given, **fixed}
        if "lam_d" not in out and distortion_component(out.get("distortion", "mse")) == "mse":
            out["lam_d"] = sc.lams[0] * 255**2  # the start's own trade-off: its loss was λ·255²·MSE + bpp
        return out

    # -- where the model comes from -------------------------------------------------------

    def _load(self, weights: str, lam_p: float | None, quality: int | None) -> None:  # type: ignore[override]
        if not isinstance(weights, (str, Path)):
            raise InputError(f"weights must be 'shipped' or the path of a hific model file, got {weights!r}.")
        if weights == "shipped":
            path, digest = shipped_hific(quality, DEFAULT_HIFIC_LAM_P if lam_p is None else lam_p)
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
        self._adopt_hific(state, source)

    def _adopt_hific(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Build the model from a state, verify its stored tables against its weights, and fingerprint it."""
        model = HificModel(self.hific)
        for name, value in state.items():  # tables and scale tables have the sizes the file gives them
            if name.rsplit(".", 1)[-1] in ("table_freqs", "table_sizes", "table_lows", "scale_table"):
                setattr(model.get_submodule(name.rsplit(".", 1)[0]), name.rsplit(".", 1)[1], torch.zeros_like(value))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc).splitlines()[0])
            raise InputError(f"{source!r} does not hold the weights its configuration describes ({first.rstrip('.')}); save it again.") from None
        model.eval()
        for module in _entropy_modules(model):
            stored = stored_tables(module)
            fresh = module.tables()
            if stored is None or len(stored) == 0:
                set_tables(module, fresh)
            elif distance(stored, fresh) > TABLE_TOLERANCE:
                raise InputError(f"the probability tables stored in {source!r} do not match its weights (they differ by {distance(stored, fresh):.2g} in total variation); it was damaged or assembled from two models, so train or save it again.")
        self.model, self.source = model, source
        self._prepare()

    def _prepare(self) -> None:
        model = self._trained()
        self.fingerprint = state_digest(self.hific, model.state_dict())[:16]
        self._integer = integer_net.convert(model.h_s)

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        """Whether decoding draws noise (noise > 0): then `seed` makes it reproducible."""
        return self.hific.noise > 0

    @property
    def learnable(self) -> bool:
        return self.source in ("untrained", "fit") or self.source.startswith("start:")

    @property
    def fitted(self) -> bool:
        return self.model is not None

    def __repr__(self) -> str:
        h = self.hific
        return f"HificCodec(N={h.channels}, M={h.latent_channels}, λ_p={h.lam_p:g}, λ_d={h.lam_d:g}, distortion={h.distortion}, synthesis={h.synthesis}, noise={h.noise:g}, {self.source})"

    # -- training and files ---------------------------------------------------------------

    def fit(self, data: Any, *, steps: int = 2000, batch_size: int = 8, crop: int = 128, lr: float = 1e-4, lr_d: float = 4e-4,  # type: ignore[override]
            seed: int = 0, device: str | torch.device | None = None, checkpoint: str | Path | None = None, resume: bool = True,
            progress: bool = True, amp: bool | None = None, processes: int = 1) -> HificCodec:
        """Train on random crops of `data` (an image source such as ``builtin:training``, or images); returns self.

        Alternating discriminator and codec steps (hific_training.py), on `device` (default: a
        GPU when there is one), deterministic under `seed` on the CPU, checkpointed every 100
        steps to `checkpoint` and resumed from it. `amp` (default: on a GPU) runs the generator
        and discriminator in bfloat16 autocast; the analysis and entropy models, which decide
        the bitstream, stay in float32. `processes` > 1 trains data-parallel in that many
        processes on this machine (one per GPU, or CPU processes with gloo), each computing
        batch_size / processes images per step; under torchrun, the group torchrun started.
        """
        from ..training import distributed
        from ..training.crops import Crops
        from ..training.hific import (
            HificSchedule,
            make_distortion,
            new_run,
            train,
            worker,
        )

        if not self.learnable:
            raise InputError(f"this hific codec was loaded ready to code ({self.source}); create an untrained one (start=... or channels=...) to train.")
        check_int(processes, 1, 1024, "processes")
        dev = torch.device(usable_device(device))
        schedule = HificSchedule(steps, batch_size, crop, lr, lr_d, dev.type == "cuda" if amp is None else amp)
        crops = Crops.of(data)
        distortion = make_distortion(self.hific.distortion, min(crop, crops.side))
        expected = self._identity(seed, schedule)
        if processes > 1:
            distributed.Group(0, processes).share(batch_size)  # an uneven split is refused before any process starts
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(checkpoint) if checkpoint is not None else Path(tmp) / "run.pt"
                threads = max(1, torch.get_num_threads() // processes) if dev.type == "cpu" else 1
                distributed.launch(processes, dev, threads, worker, self.hific.to_json(), self._start, data, schedule, seed,
                                   expected, str(path), resume, progress)
                run = new_run(self.hific, self._start, seed, torch.device("cpu"), schedule)
                train(run, crops, distortion, schedule, expected=expected, checkpoint=path, resume=True, progress=False)
        else:
            group = distributed.current()
            if distributed.under_torchrun():
                dev = distributed.join_from_environment(dev)
                group = distributed.current()
            run = new_run(self.hific, self._start, seed, dev, schedule)
            train(run, crops, distortion.to(dev), schedule, expected=expected, checkpoint=checkpoint, resume=resume, progress=progress, group=group)
        self._finish(run)
        return self

    def _identity(self, seed: int, schedule: Any) -> dict[str, Any]:
        start = None if self._start is None else {k: v for k, v in self._start.description.items() if k in ("sha256", "quality")}
        return {"config": self.hific.to_json(), "seed": seed, "start": start, **schedule.identity()}

    def _finish(self, run: Any) -> None:
        from ..training.transform import finish

        self.model = finish(run.model)  # type: ignore[assignment]
        self.history, self.replicas, self.train_seconds = run.history, run.replicas, run.seconds
        self.source = "fit"
        self._prepare()

    def save(self, path: str | Path, *, half: bool = False, record: dict[str, Any] | None = None) -> Path:
        """Write the model with its tables (safetensors) and a record with its sha256; `weights=PATH` loads it on any machine."""
        model = self._trained()
        info = record or {"saved_by": f"{type(self).__name__}.save", "source": self.source, "fingerprint": self.fingerprint}
        save_model(path, self.hific, model.state_dict(), info, half=half)  # type: ignore[arg-type]
        return Path(path)

    # -- decoding -------------------------------------------------------------------------

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        dtype = header_dtype(bits)
        symbols = self.symbols(bits)
        model = self._trained()
        _, c, h, w = bits.shape
        y_hat = torch.from_numpy(symbols["y"]).double()
        if "mu" in symbols:
            y_hat = y_hat + _fixed(symbols["mu"])
        if self.hific.noise:
            # Drawn on the CPU in float64: the same seed gives the same noise on every device and precision.
            generator = torch.Generator()
            generator.manual_seed(seed) if seed is not None else generator.seed()
            y_hat = y_hat + self.hific.noise * (torch.rand(y_hat.shape, generator=generator, dtype=torch.float64) - 0.5)
        param = next(model.parameters())
        with torch.no_grad():
            x_hat = model.generate(y_hat.to(param))[:, :, :h, :w].clamp(0, 1)
        return (x_hat if c == 3 else x_hat.mean(1, keepdim=True)).to(dtype)
