"""The gan codec: Blau & Michaeli's encoder–quantiser–stochastic-decoder (ICML 2019, §4) as an rdpkit Codec.

    >>> import rdpkit
    >>> from rdpkit.data import digits
    >>> codec = rdpkit.codec("gan", dim=2, levels=4, lam=0.5).fit(digits(), steps=2000)
    >>> bits = codec.encode(x)                 # real bytes: range-coded indices
    >>> codec.rate(bits)                       # measured bits per image, and dim·log2(L)
    >>> x_hat = codec.decode(bits, seed=0)     # the noise is reproducible under a seed

The bitstream holds the quantisation indices, range-coded (constriction) with the integer
prior tables stored in the model, and the model's fingerprint, so a bitstream is never
decoded with a model that did not write it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

import rdpkit
from rdpkit.bitstream import Bitstream
from rdpkit.codecs.entropy import (
    decode_with_tables,
    encode_with_tables,
    quantize_frequencies,
)
from rdpkit.codecs.headers import check_shape, dtype_name, field, header_dtype
from rdpkit.codecs.measure import Rate
from rdpkit.errors import CorruptBitstream, InputError, RdpkitError
from rdpkit.interfaces import Codec, Distortion
from rdpkit.validation import check_images, check_seed, usable_device

from .config import GanConfig
from .model import PRIOR_PRECISION, GanAutoencoder
from .storage import fingerprint, load_model, save_model
from .training import new_run, train

#: Images per forward pass when encoding or fitting the prior (bounds memory, not results).
CHUNK = 4096


class GanCodec(Codec):
    """Learned codec; create it with options (see `GanConfig`), then `fit` it or `load` a trained one."""

    stochastic = True
    perception_weight = "lam"
    quick_fit = {"steps": 100, "progress": False}

    def __init__(
        self,
        dim: int = 2,
        levels: int = 4,
        lam: float = 0.0,
        distortion: str = "mse",
        noise: float = 0.5,
        arch: str = "auto",
        hidden: int = 128,
        critic_hidden: int = 128,
        critic_steps: int = 5,
        gp_weight: float = 10.0,
        lr: float = 2e-3,
        sigma: float = 1.0,
    ) -> None:
        self.config = GanConfig(dim, levels, lam, distortion, noise, arch, hidden, critic_hidden, critic_steps, gp_weight, lr, sigma)
        self.model: GanAutoencoder | None = None
        self.fingerprint = ""
        #: Training curve: every 100 steps, the mean distortion (and the critic's W1 estimate when λ > 0).
        self.history: list[dict[str, float]] = []

    @property
    def codec_name(self) -> str:
        return self.info.name if self.info is not None else "gan"

    @property
    def fitted(self) -> bool:
        return self.model is not None

    @property
    def nominal_bits(self) -> float:
        """dim·log2(L) bits per image: the rate without entropy coding."""
        return self.config.nominal_bits

    def __repr__(self) -> str:
        state = f"trained on {'×'.join(map(str, self.model.shape))} images" if self.model is not None else "untrained"
        return f"GanCodec({self.config}, {state})"

    # -- training --------------------------------------------------------------------------

    def fit(
        self,
        data: torch.Tensor,
        *,
        steps: int = 2000,
        batch_size: int = 64,
        seed: int = 0,
        device: str | torch.device | None = None,
        checkpoint: str | Path | None = None,
        resume: bool = True,
        progress: bool = True,
    ) -> GanCodec:
        """Train on `data` (N×C×H×W in [0, 1]), then fit the integer prior to its indices; returns self.

        Runs on `device`, by default CUDA when available, else the CPU; deterministic under
        `seed` on the CPU. With `checkpoint`, the state is saved there every 100 steps and a
        run finds it again with `resume=True` (a finished run just reloads it).
        """
        dev = torch.device(usable_device(device))
        check_images(data, "data")
        if data.shape[0] < 2:
            raise InputError(f"data holds {data.shape[0]} image; fit needs at least 2 (e.g. rdpkit.data.digits()).")
        for name, value in (("steps", steps), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}.")
        distortion = self._distortion(tuple(data.shape[1:]))
        shape = (int(data.shape[1]), int(data.shape[2]), int(data.shape[3]))
        run = new_run(self.config, shape, seed, dev)
        data = data.to(device=dev, dtype=torch.float32)
        train(run, self.config, data, distortion.to(dev), steps=steps, batch_size=batch_size, seed=seed,
              checkpoint=checkpoint, resume=resume, progress=progress)
        self.model, self.history = run.model, run.history
        self._fit_prior(data)
        return self

    def _distortion(self, shape: tuple[int, ...]) -> Distortion:
        d = rdpkit.distortion(self.config.distortion)
        if d.info is not None and not d.info.differentiable:
            raise InputError(f"distortion {self.config.distortion!r} is not differentiable, so it cannot train the codec; choose a differentiable one such as 'mse'.")
        if min(shape[1:]) < d.min_size:
            raise InputError(f"distortion {self.config.distortion!r} needs images of at least {d.min_size}×{d.min_size}, but the data are {shape[1]}×{shape[2]}; choose another distortion, such as 'mse'.")
        return d

    def _fit_prior(self, data: torch.Tensor) -> None:
        """Count each latent entry's indices over the training data: the integer prior tables."""
        model = self._trained()
        with torch.no_grad():
            idx = torch.cat([model.quantizer.indices(model.encoder(chunk)) for chunk in data.split(CHUNK)])
        counts = torch.zeros(self.config.dim, self.config.levels, dtype=torch.int64)
        counts.scatter_add_(1, idx.t().cpu(), torch.ones_like(idx.t().cpu()))
        model.prior.copy_(torch.from_numpy(quantize_frequencies(counts.numpy(), PRIOR_PRECISION)))
        self.fingerprint = fingerprint(self.config, model.shape, model.state_dict())

    # -- files -----------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the trained codec (weights, integer prior, configuration) as one safetensors file."""
        model = self._trained()
        return save_model(path, self.config, model.shape, model.state_dict())

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> GanCodec:
        """A codec saved with `save`, on `device` (default: the CPU)."""
        device = usable_device(device or "cpu")
        config, shape, state = load_model(path)
        codec = cls(**{k: getattr(config, k) for k in config.__dataclass_fields__})
        model = GanAutoencoder(config, shape)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise InputError(f"{str(path)!r} does not hold the weights its configuration describes ({str(exc).splitlines()[0]}); save the codec again.") from None
        codec.model = model.to(device).eval()
        codec.fingerprint = fingerprint(config, shape, state)
        return codec

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> GanCodec:
        """Move the networks to a device or floating-point dtype; the integer prior keeps its values."""
        self._trained().to(device=usable_device(device) if device is not None else None, dtype=dtype)
        return self

    # -- coding ----------------------------------------------------------------------------

    def _trained(self) -> GanAutoencoder:
        if self.model is None:
            raise RdpkitError(f"codec {self.codec_name!r} is not trained; call fit(data) first, or GanCodec.load(path) for a saved one.")
        return self.model

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """The quantisation indices f̂(x), N×dim int64, computed in the model's dtype on its device."""
        model = self._trained()
        check_images(x)
        if tuple(x.shape[1:]) != model.shape:
            want = "×".join(map(str, model.shape))
            raise InputError(f"codec {self.codec_name!r} was trained on {want} images (C×H×W), got {'×'.join(map(str, x.shape[1:]))}; resize the images or train a codec for this size.")
        param = next(model.encoder.parameters())
        with torch.no_grad():
            return torch.cat([model.quantizer.indices(model.encoder(c.to(param))) for c in x.split(CHUNK)])

    def _tables(self) -> np.ndarray:
        """The prior, dim×L: latent entry j of every image is coded with row j (entropy.py takes the rows in turn)."""
        return self._trained().prior.cpu().numpy()

    def _encode(self, x: torch.Tensor) -> Bitstream:
        idx = self.indices(x)
        payload = encode_with_tables(idx.flatten().cpu().numpy(), self._tables())
        header = {"dtype": dtype_name(x), "dim": self.config.dim, "levels": self.config.levels, "model": self.fingerprint}
        return Bitstream(self.codec_name, tuple(x.shape), payload, header)

    def read_indices(self, bits: Bitstream | bytes) -> torch.Tensor:
        """The indices a bitstream holds, N×dim int64 (entropy decoding only; no float arithmetic)."""
        if not isinstance(bits, Bitstream):
            bits = Bitstream.from_bytes(bytes(bits))
        model = self._trained()
        n, *shape = check_shape(bits)
        written_by = field(bits, "model", str)
        if written_by != self.fingerprint:
            raise CorruptBitstream(f"this bitstream was written by gan model {written_by}, but this codec is model {self.fingerprint}; decode it with the model that wrote it (GanCodec.load).")
        if tuple(shape) != model.shape or field(bits, "dim", int) != self.config.dim or field(bits, "levels", int) != self.config.levels:
            raise CorruptBitstream(f"the gan bitstream header (shape {bits.shape}) does not match the model that wrote it; the bitstream is damaged, re-encode it.")
        symbols = decode_with_tables(bits.payload, self._tables(), n * self.config.dim)
        return torch.from_numpy(symbols).reshape(n, self.config.dim)

    def decode_indices(self, indices: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        """g(f̂ + n) for N×dim indices, with n ~ U(−α/2, α/2)·bin drawn on the CPU from `seed`
        (so the same seed gives the same noise on every device). Images in the model's dtype."""
        seed = check_seed(seed)
        model = self._trained()
        param = next(model.decoder.parameters())
        generator = torch.Generator().manual_seed(seed) if seed is not None else torch.Generator()
        if seed is None:
            generator.seed()
        noise = model.uniform_noise(indices.shape, generator)
        with torch.no_grad():
            latent = model.quantizer.dequantize(indices.to(param.device), param.dtype)
            return model.decode_latent(latent, noise.to(param)).clamp(0, 1)

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        dtype = header_dtype(bits)
        return self.decode_indices(self.read_indices(bits), seed).to(dtype)

    def rate(self, bits: Bitstream) -> dict[str, Any]:
        """Measured rate of a bitstream (rdpkit's `Rate`) beside the nominal dim·log2(L), in bits per image."""
        return {**Rate.of(bits).as_dict(), "nominal_bits_per_image": self.nominal_bits}

