"""The bitstream every codec of this plugin writes: the quantised latent ŷ of a factorized or hyperprior model, to bytes and back.

The bitstream is rdpkit's container; its header names the image dtype, the rate (quality) and
the model's fingerprint; the payload is one range-coded stream (entropy/coding.py) of the
hyper-latent ẑ (factorized prior tables, one per channel) and the latent ŷ (for the
hyperprior, the Gaussian table each entry's scale index picks; for the factorized codec, one
per channel). Decoding needs integers only until the synthesis: the tables are stored
integers, the scale indices come from the integer hyper-synthesis (entropy/integer_net.py),
so the same bytes give the same symbols on every machine, device and precision, and
reconstructions that differ only by the floating-point precision of the synthesis. Which
synthesis turns ŷ into pixels (the GDN transform, or HiFiC's generator) is the codec's
business, not the coder's: a hyperprior bitstream serves both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rdpkit.bitstream import MAX_PIXELS, Bitstream
from rdpkit.codecs.headers import check_shape, dtype_name, field, header_dtype
from rdpkit.codecs.measure import Rate
from rdpkit.errors import CorruptBitstream, InputError, RdpkitError, WeightsUnavailable

from ..entropy import integer_net
from ..entropy.coding import Reader, Writer, channel_index
from ..entropy.gaussian import scale_indices
from ..entropy.tables import Tables, stored_tables
from ..models.config import ModelConfig
from ..models.hific_config import HificConfig
from ..models.storage import state_digest
from ..networks.codec_model import CodecModel
from ..networks.padding import pad

#: What turns ŷ (float64, μ added) into pixels, given the rate index the header names.
Synthesis = Callable[[torch.Tensor, int], torch.Tensor]


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


def not_trained(name: str) -> RdpkitError:
    return RdpkitError(f"codec {name!r} is not trained; call fit(data) first, or create it without architecture options (the shipped model) or with weights=PATH.")


class LatentCoder:
    """ŷ ⇄ bytes for one trained model (a `CodecModel`, or a `HificModel`, whose analysis and entropy models are the hyperprior's).

    The header's fingerprint digests `identity` (the configuration that defines the codec: the
    model's, or a hific codec's, which names its generator too) with the weights; `kind` and
    `source` name the model in refusals; `max_pixels` bounds what a header may announce (rdpkit.bitstream.MAX_PIXELS,
    2**24 pixels by default, keeps a decode near 5 GB: the synthesis peaks at about 300 bytes per pixel).
    """

    def __init__(self, model: CodecModel, identity: ModelConfig | HificConfig, kind: str, source: str, max_pixels: int = MAX_PIXELS) -> None:
        self.model, self.config = model, model.config
        self.kind, self.source, self.max_pixels = kind, source, max_pixels
        self.fingerprint = state_digest(identity, model.state_dict())[:16]  # type: ignore[arg-type]
        self.integer = integer_net.convert(model.h_s) if self.config.kind == "hyperprior" else []

    def encode(self, x: torch.Tensor, rate_index: int, name: str) -> tuple[Bitstream, float]:
        """The bitstream of `x` at `rate_index` and the code length its tables assign (bits)."""
        model = self.model
        n, c = x.shape[:2]
        if c not in (1, 3):
            raise InputError(f"the {self.kind} codec codes RGB (or grey) images, got {c} channels; give N×3×H×W or N×1×H×W images.")
        param = next(model.parameters())
        # Channels-last lets oneDNN run the analysis's convolutions about a fifth faster on a CPU (benchmarks/bench_learned_codecs.py).
        xp = pad(x.expand(-1, 3, -1, -1), self.config.stride).to(param).contiguous(memory_format=torch.channels_last)
        rate = torch.full((n,), rate_index, device=param.device)
        writer = Writer()
        with torch.no_grad():
            y = model.latent(xp, rate)
            if self.config.kind == "factorized":
                writer.write(_ints(torch.round(y)), channel_index(y.shape), _tables(model.prior))
            else:
                z_hat = torch.round(model.hyper_latent(y)).clamp(-integer_net.ACTIVATION_LIMIT, integer_net.ACTIVATION_LIMIT)
                writer.write(_ints(z_hat), channel_index(z_hat.shape), _tables(model.hyperprior))
                index, means = self._scales(z_hat.long())
                y_sym = torch.round(y) if means is None else torch.round(y - fixed(means).to(y))
                writer.write(_ints(y_sym), index.ravel(), _tables(model.conditional))
        header = {"dtype": dtype_name(x), "rate": rate_index, "model": self.fingerprint}
        return Bitstream(name, tuple(x.shape), writer.finish(), header), writer.ideal_bits

    def _scales(self, z_hat: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Each latent's table index (and μ in units of 2**−FRACTION_BITS) from integer hyper-latents, by the integer hyper-synthesis."""
        out = integer_net.run(self.integer, z_hat)
        m = self.config.latent_channels
        scales, means = (out[:, :m], out[:, m:]) if self.config.mean else (out, None)
        index = scale_indices(scales, self.model.conditional.thresholds(integer_net.FRACTION_BITS)).numpy()
        return index, None if means is None else means.numpy()

    def symbols(self, bits: Bitstream | bytes) -> dict[str, np.ndarray]:
        """What a bitstream holds, by entropy decoding alone (integers only, no floating point): the latent ŷ's
        integers ("y", N×M×h×w, before adding μ), the hyper-latent's ("z") and each latent's table ("table")."""
        if not isinstance(bits, Bitstream):
            bits = Bitstream.from_bytes(bytes(bits))
        model = self.model
        n = check_shape(bits, channels=(1, 3))[0]
        written_by = field(bits, "model", str)
        if written_by != self.fingerprint:
            raise CorruptBitstream(f"this bitstream was written by {self.kind} model {written_by[:16]}, but this codec is model {self.fingerprint} ({self.source}); decode it with the model that wrote it.")
        field(bits, "rate", int, 0, self.config.rates - 1)
        hp, wp = bits.padded_size(self.max_pixels, self.config.stride)
        y_shape = (n, self.config.latent_channels, hp // 16, wp // 16)
        z_shape = (n, self.config.channels, hp // 64, wp // 64) if self.config.kind == "hyperprior" else None
        value_tables = [_tables(model.prior)] if z_shape is None else [_tables(model.hyperprior), _tables(model.conditional)]
        reader = Reader(bits.payload, math.prod(y_shape) + (math.prod(z_shape) if z_shape else 0), value_tables)
        out: dict[str, np.ndarray] = {}
        if z_shape is None:
            out["y"] = reader.read_channels(y_shape, _tables(model.prior))
            out["table"] = channel_index(y_shape).reshape(y_shape)
        else:
            out["z"] = reader.read_channels(z_shape, _tables(model.hyperprior))
            out["table"], mu = self._scales(torch.from_numpy(out["z"]))
            if mu is not None:
                out["mu"] = mu
            out["y"] = reader.read(out["table"].ravel(), _tables(model.conditional)).reshape(y_shape)
        reader.finish()
        return out

    def decode(self, bits: Bitstream, synthesis: Synthesis) -> torch.Tensor:
        """The images `bits` holds: ŷ by `symbols`, in float64, turned into pixels by `synthesis`, cropped, clamped, in the header's dtype."""
        dtype = header_dtype(bits)
        symbols = self.symbols(bits)
        _, c, h, w = bits.shape
        y_hat = torch.from_numpy(symbols["y"]).double()
        if "mu" in symbols:
            y_hat = y_hat + fixed(symbols["mu"])
        with torch.no_grad():
            x_hat = synthesis(y_hat, int(bits.header["rate"]))[:, :, :h, :w]
        if not torch.isfinite(x_hat).all():  # only damaged weights do this: finite ŷ through finite, trained weights stays finite
            raise WeightsUnavailable(f"the {self.kind} model ({self.source}) decoded pixels that are not numbers; its weights are damaged: "
                                     "reinstall the plugin, or train or convert the model again.")
        x_hat = x_hat.clamp(0, 1)
        return (x_hat if c == 3 else x_hat.mean(1, keepdim=True)).to(dtype)

    def rate(self, x: torch.Tensor, rate_index: int, name: str) -> RateReport:
        """Code `x` and report its rate from the bytes, the model's likelihood estimate, and what the tables assign."""
        bits, table_bits = self.encode(x, rate_index, name)
        param = next(self.model.parameters())
        xp = pad(x.expand(-1, 3, -1, -1), self.config.stride).to(param)
        estimated = self.model.estimated_bits(xp, torch.full((x.shape[0],), rate_index, device=param.device))
        n = x.shape[0]
        return RateReport(Rate.of(bits), float(estimated.double().mean()), table_bits / n)

    def to(self, device: str | torch.device | None, dtype: torch.dtype | None) -> None:
        """Move the networks to a device or floating-point dtype; tables, integer network and fingerprint stay as they are."""
        model = self.model
        tables = {name: buf for name, buf in model.named_buffers() if "table" in name}
        model.to(device=device, dtype=dtype)
        for name, buf in tables.items():  # integer tables keep their dtype; the scale table keeps float32
            module, attr = name.rsplit(".", 1)
            setattr(model.get_submodule(module), attr, buf.to(next(model.parameters()).device))


def fixed(v: np.ndarray) -> torch.Tensor:
    """Fixed-point integers as float64 values (exact: a power-of-two scaling)."""
    return torch.from_numpy(v).double() * 2.0**-integer_net.FRACTION_BITS


def _tables(module: torch.nn.Module) -> Tables:
    tables = stored_tables(module)
    assert tables is not None, "tables are computed whenever a model is adopted"
    return tables


def _ints(v: torch.Tensor) -> np.ndarray:
    if not torch.isfinite(v).all():  # only damaged weights give a latent that is not a number
        raise WeightsUnavailable("the model's analysis gave latent values that are not numbers; its weights are damaged: reinstall the plugin, "
                                 "or train or convert the model again.")
    return v.detach().to("cpu", torch.float64).clamp(-(2.0**40), 2.0**40).numpy().astype(np.int64).ravel()
