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

The bitstream is rdpkit's container; its header names the image dtype, the rate (quality) and
the model's fingerprint; the payload is one range-coded stream (coding.py) of the hyper-latent
ẑ (factorized prior tables, one per channel) and the latent ŷ (for the hyperprior, the
Gaussian table each entry's scale index picks; for the factorized codec, one per channel).
Decoding needs integers only until the synthesis transform: the tables are stored integers,
the scale indices come from the integer hyper-synthesis (integer_net.py), so the same bytes
give the same symbols on every machine, device and precision, and reconstructions that differ
only by the floating-point precision of g_s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from rdpkit.bitstream import Bitstream
from rdpkit.codecs.headers import check_shape, dtype_name, field, header_dtype
from rdpkit.codecs.measure import Rate
from rdpkit.codecs.options import check_int
from rdpkit.errors import CorruptBitstream, InputError, RdpkitError, WeightsUnavailable
from rdpkit.interfaces import Codec
from rdpkit.validation import check_images, usable_device

from ..entropy import integer_net
from ..entropy.coding import Reader, Writer
from ..entropy.gaussian import scale_indices
from ..entropy.tables import Tables, distance, set_tables, stored_tables
from ..models import compressai
from ..models.config import ModelConfig, check_lams
from ..models.storage import load_model, save_model, state_digest
from ..models.zoo import shipped
from ..networks.codec_model import CodecModel
from ..networks.padding import pad

#: Images larger than this (pixels in one bitstream, N·H·W) are refused by the decoder before it allocates anything.
MAX_PIXELS = 1 << 26
#: Tables recomputed from a file's weights may differ from the stored ones by floating-point noise, never by more.
TABLE_TOLERANCE = 0.01
DEFAULTS = {"channels": 128, "latent_channels": 192, "lam": 0.0067}


@dataclass(frozen=True)
class RateReport:
    """A batch's rate from its bytes, beside the model's own estimate of it (bits per image)."""

    rate: Rate
    estimated_bits_per_image: float  # −log2 likelihood of the rounded latents under the float model
    table_bits_per_image: float  # the code length the integer tables assign (what an ideal coder would write)

    @property
    def gap_bits_per_image(self) -> float:
        """Measured − estimated: what tables, integer scales, the coder and the container cost beyond the model's estimate."""
        return self.rate.bits_per_image - self.estimated_bits_per_image

    @property
    def gap_percent(self) -> float:
        return 100 * self.gap_bits_per_image / self.estimated_bits_per_image

    def as_dict(self) -> dict[str, Any]:
        return {**self.rate.as_dict(), "estimated_bits_per_image": self.estimated_bits_per_image,
                "table_bits_per_image": self.table_bits_per_image, "gap_bits_per_image": self.gap_bits_per_image, "gap_percent": self.gap_percent}


class LearnedCodec(Codec):
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
        self.fingerprint = ""
        self.source = "untrained"
        self.history: list[dict[str, float]] = []
        self._integer: list[integer_net.IntegerLayer] = []
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
                raise WeightsUnavailable(f"the shipped {self.KIND} model has no recorded sha256 in rdpkit_learned_codecs/shipped.py, so it cannot be verified; reinstall rdpkit-learned-codecs.")
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
        """Build the model from a state, compute (or verify) its tables, and fingerprint it."""
        if config.kind != self.KIND:
            raise InputError(f"{source!r} holds a {config.kind} model, not a {self.KIND} one; load it with rdpkit.codec({config.kind!r}, weights=...).")
        model = CodecModel(config)
        # Tables absent from a file (CompressAI's, or one written before they were computed) are computed below.
        state = {**{k: v for k, v in model.state_dict().items() if k.rsplit(".", 1)[-1].startswith("table_")}, **state}
        for name, value in state.items():  # tables and scale tables have the sizes the file gives them
            if name.rsplit(".", 1)[-1] in ("table_freqs", "table_sizes", "table_lows", "scale_table"):
                module = model.get_submodule(name.rsplit(".", 1)[0])
                setattr(module, name.rsplit(".", 1)[1], torch.zeros_like(value))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc).splitlines()[0])
            raise InputError(f"{source!r} does not hold the weights its configuration describes ({first.rstrip('.')}); save or convert it again.") from None
        model.eval()
        for module in _entropy_modules(model):
            fresh = module.tables()
            stored = stored_tables(module)
            if stored is None or not check_tables:
                set_tables(module, fresh)
            elif distance(stored, fresh) > TABLE_TOLERANCE:
                raise InputError(f"the probability tables stored in {source!r} do not match its weights (they differ by {distance(stored, fresh):.2g} in total variation); it was damaged or assembled from two models, so train or save it again.")
        self.config, self.model, self.source = config, model, source
        self._prepare()

    def _prepare(self) -> None:
        model = self._trained()
        self.fingerprint = state_digest(self.config, model.state_dict())[:16]
        self._integer = integer_net.convert(model.h_s) if self.config.kind == "hyperprior" else []

    @property
    def codec_name(self) -> str:
        return self.info.name if self.info is not None else self.KIND

    @property
    def learnable(self) -> bool:
        """Only an untrained codec is trained before it codes; one loaded ready to code (the shipped model, weights=) is not."""
        return self.source == "untrained" or self.source == "fit"

    @property
    def fitted(self) -> bool:
        return self.model is not None

    def __repr__(self) -> str:
        c = self.config
        return f"{type(self).__name__}(N={c.channels}, M={c.latent_channels}, λ={list(c.lams)}, quality={self.quality}, {self.source})"

    # -- training and files ---------------------------------------------------------------

    def fit(self, data: Any, *, steps: int = 10000, batch_size: int = 8, crop: int = 128, lr: float = 1e-4, seed: int = 0,
            device: str | torch.device | None = None, checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True) -> LearnedCodec:
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

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> LearnedCodec:
        """Move the networks to a device or floating-point dtype; tables, integer network and fingerprint stay as they are."""
        if dtype is not None and dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            raise InputError(f"dtype must be a floating-point torch dtype, got {dtype!r}.")
        model = self._trained()
        tables = {name: buf for name, buf in model.named_buffers() if "table" in name}
        model.to(device=usable_device(device) if device is not None else None, dtype=dtype)
        for name, buf in tables.items():  # integer tables keep their dtype; the scale table keeps float32
            module, attr = name.rsplit(".", 1)
            setattr(model.get_submodule(module), attr, buf.to(next(model.parameters()).device))
        return self

    # -- coding ---------------------------------------------------------------------------

    def _trained(self) -> CodecModel:
        if self.model is None:
            raise RdpkitError(f"codec {self.codec_name!r} is not trained; call fit(data) first, or create it without architecture options (the shipped model) or with weights=PATH.")
        return self.model

    def _code(self, x: torch.Tensor) -> tuple[Bitstream, float]:
        """The bitstream of `x` and the code length its tables assign (bits)."""
        model = self._trained()
        n, c = x.shape[:2]
        if c not in (1, 3):
            raise InputError(f"the {self.KIND} codec codes RGB (or grey) images, got {c} channels; give N×3×H×W or N×1×H×W images.")
        param = next(model.parameters())
        xp = pad(x.expand(-1, 3, -1, -1), self.config.stride).to(param)
        rate = torch.full((n,), self.rate_index, device=param.device)
        writer = Writer()
        with torch.no_grad():
            y = model.latent(xp, rate)
            if self.config.kind == "factorized":
                writer.write(_ints(torch.round(y)), _channel_index(y.shape), self._tables(model.prior))
            else:
                z_hat = torch.round(model.hyper_latent(y)).clamp(-integer_net.ACTIVATION_LIMIT, integer_net.ACTIVATION_LIMIT)
                writer.write(_ints(z_hat), _channel_index(z_hat.shape), self._tables(model.hyperprior))
                index, means = self._scales(z_hat.long())
                y_sym = torch.round(y) if means is None else torch.round(y - _fixed(means).to(y))
                writer.write(_ints(y_sym), index.ravel(), self._tables(model.conditional))
        header = {"dtype": dtype_name(x), "rate": self.rate_index, "model": self.fingerprint}
        return Bitstream(self.codec_name, tuple(x.shape), writer.finish(), header), writer.ideal_bits

    def _encode(self, x: torch.Tensor) -> Bitstream:
        return self._code(x)[0]

    def _tables(self, module: torch.nn.Module) -> Tables:
        tables = stored_tables(module)
        assert tables is not None, "tables are computed whenever a model is adopted"
        return tables

    def _scales(self, z_hat: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Each latent's table index (and μ in units of 2**−FRACTION_BITS) from integer hyper-latents, by the integer hyper-synthesis."""
        model = self._trained()
        out = integer_net.run(self._integer, z_hat)
        m = self.config.latent_channels
        scales, means = (out[:, :m], out[:, m:]) if self.config.mean else (out, None)
        index = scale_indices(scales, model.conditional.thresholds(integer_net.FRACTION_BITS)).numpy()
        return index, None if means is None else means.numpy()

    def symbols(self, bits: Bitstream | bytes) -> dict[str, np.ndarray]:
        """What a bitstream holds, by entropy decoding alone (integers only, no floating point): the latent ŷ's
        integers ("y", N×M×h×w, before adding μ), the hyper-latent's ("z") and each latent's table ("table")."""
        if not isinstance(bits, Bitstream):
            bits = Bitstream.from_bytes(bytes(bits))
        model = self._trained()
        n, _, h, w = check_shape(bits, channels=(1, 3))
        written_by = field(bits, "model", str)
        if written_by != self.fingerprint:
            raise CorruptBitstream(f"this bitstream was written by {self.KIND} model {written_by[:16]}, but this codec is model {self.fingerprint} ({self.source}); decode it with the model that wrote it.")
        field(bits, "rate", int, 0, self.config.rates - 1)
        s = self.config.stride
        hp, wp = -(-h // s) * s, -(-w // s) * s
        # The padded size is what the decoder works on: a million 8×8 images are a million 64×64 ones.
        if n * hp * wp > self.max_pixels:
            raise CorruptBitstream(f"the bitstream header announces {n}×{h}×{w} pixels, {n * hp * wp:,} once padded to the transforms' stride, more than this codec decodes "
                                   f"(max_pixels={self.max_pixels:,}); if it is genuine, decode it with a codec created with a larger max_pixels.")
        y_shape = (n, self.config.latent_channels, hp // 16, wp // 16)
        z_shape = (n, self.config.channels, hp // 64, wp // 64) if self.config.kind == "hyperprior" else None
        value_tables = [self._tables(model.prior)] if z_shape is None else [self._tables(model.hyperprior), self._tables(model.conditional)]
        reader = Reader(bits.payload, math.prod(y_shape) + (math.prod(z_shape) if z_shape else 0), value_tables)
        out: dict[str, np.ndarray] = {}
        if z_shape is None:
            out["table"] = _channel_index(y_shape).reshape(y_shape)
        else:
            out["z"] = reader.read(_channel_index(z_shape), self._tables(model.hyperprior)).reshape(z_shape)
            out["table"], mu = self._scales(torch.from_numpy(out["z"]))
            if mu is not None:
                out["mu"] = mu
        out["y"] = reader.read(out["table"].ravel(), self._tables(model.prior if z_shape is None else model.conditional)).reshape(y_shape)
        reader.finish()
        return out

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        dtype = header_dtype(bits)
        symbols = self.symbols(bits)
        model = self._trained()
        n, c, h, w = bits.shape
        y_hat = torch.from_numpy(symbols["y"]).double()
        if "mu" in symbols:
            y_hat = y_hat + _fixed(symbols["mu"])
        param = next(model.parameters())
        rate = torch.full((n,), int(bits.header["rate"]), device=param.device)
        with torch.no_grad():
            x_hat = model.reconstruct(y_hat.to(param), rate)[:, :, :h, :w].clamp(0, 1)
        return (x_hat if c == 3 else x_hat.mean(1, keepdim=True)).to(dtype)

    def rate(self, x: torch.Tensor) -> RateReport:
        """Code `x` and report its rate from the bytes, the model's likelihood estimate, and what the tables assign."""
        check_images(x, min_size=self.min_size)
        bits, table_bits = self._code(x)
        model = self._trained()
        param = next(model.parameters())
        xp = pad(x.expand(-1, 3, -1, -1), self.config.stride).to(param)
        estimated = model.estimated_bits(xp, torch.full((x.shape[0],), self.rate_index, device=param.device))
        n = x.shape[0]
        return RateReport(Rate.of(bits), float(estimated.double().mean()), table_bits / n)


def _fixed(v: np.ndarray) -> torch.Tensor:
    """Fixed-point integers as float64 values (exact: a power-of-two scaling)."""
    return torch.from_numpy(v).double() * 2.0**-integer_net.FRACTION_BITS


def _ints(v: torch.Tensor) -> np.ndarray:
    return v.detach().to("cpu", torch.float64).clamp(-(2.0**40), 2.0**40).numpy().astype(np.int64).ravel()


def _channel_index(shape: tuple[int, ...]) -> np.ndarray:
    """The table of every entry of an N×C×H×W latent coded with one table per channel: its channel."""
    n, c, h, w = shape
    return np.broadcast_to(np.arange(c, dtype=np.int64)[None, :, None], (n, c, h * w)).ravel()


def _entropy_modules(model: CodecModel) -> list[torch.nn.Module]:
    return [model.prior] if model.config.kind == "factorized" else [model.hyperprior, model.conditional]


class FactorizedCodec(LearnedCodec):
    """Ballé et al.'s factorized-prior codec (bmshj2018-factorized): options channels (N), latent_channels (M), lam, quality, weights."""

    KIND = "factorized"

    def __init__(self, channels: int | None = None, latent_channels: int | None = None, lam: float | list[float] | None = None,
                 quality: int | None = None, weights: str | None = None, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(channels, latent_channels, lam, quality, weights, False, max_pixels)


class HyperpriorCodec(LearnedCodec):
    """The scale hyperprior (bmshj2018-hyperprior), or with mean=true the mean-scale hyperprior (mbt2018-mean)."""

    KIND = "hyperprior"
