"""Any model with CompressAI's compress/decompress protocol as an rdpkit codec, with a real container.

    >>> codec = CompressAIProtocolCodec(my_model)                    # in Python: the model itself
    >>> rdpkit sweep ... name = "compressai-model,model=\"mynet\",weights=\"net.pth\""

A configuration names a model that an installed distribution offers: this plugin's own (`MODELS`) or
an entry point of the group ``rdpkit.compressai_models`` (``mynet = "mypkg.nets:build"`` in its
pyproject.toml). A path ``"package.module:callable"`` imports and runs code, so it is taken only where
the user said they trust the configuration: ``--trust-code`` on the command line, or the environment
variable RDPKIT_TRUST_CODE=1 a Python program sets itself; never from a sweep file or an option alone.

The protocol (CompressAI's CompressionModel): ``compress(x) -> {"strings": [list of bytes per
image, one list per entropy model], "shape": latent size}`` and ``decompress(strings, shape) ->
{"x_hat": images}``. The adapter pads images to the model's stride (replicating the edge),
crops and clamps the output, and stores the strings in rdpkit's container:

    payload = u8 lists | u32 images | for each list, each image: u32 length, bytes

with the latent shape, the image dtype and the model's fingerprint (sha256 of its state dict)
in the header, so a bitstream is never decoded by a model that did not write it. `stride` is
the model's total downsampling: images are padded to a multiple of it and the latent shape is
the padded size over it (CompressAI's image models: 64), checked when coding and, exactly, when
decoding, with the padded size bounded by `max_pixels` (rdpkit.bitstream.MAX_PIXELS), before
the model is called: a header cannot make the model build more than the image it announces. The parser
checks every length against the bytes that remain before slicing, so a forged payload costs
no more memory than itself; what the model's own decompress does with damaged strings is
its business, but any exception it raises comes out as one CorruptBitstream sentence.
"""

from __future__ import annotations

import hashlib
import importlib
import struct
from collections.abc import Callable
from functools import reduce
from importlib.metadata import entry_points
from typing import Any

import torch

from rdpkit.bitstream import MAX_PIXELS, Bitstream, short_repr
from rdpkit.codecs.headers import check_shape, dtype_name, field, header_dtype
from rdpkit.codecs.options import check_int
from rdpkit.errors import CorruptBitstream, InputError, RdpkitError
from rdpkit.interfaces import Codec
from rdpkit.options import code_trusted

from ..models import compressai
from ..networks.padding import pad
from .transform import HyperpriorCodec

_U8, _U32 = struct.Struct(">B"), struct.Struct(">I")
MAX_LISTS = 16
#: The entry-point group through which installed distributions offer models by name (``name = "package.module:callable"``).
ENTRY_POINTS = "rdpkit.compressai_models"
#: The models this plugin offers by name.
MODELS = {"shipped-hyperprior": "rdpkit_learned_codecs.codecs.adapter:shipped_hyperprior"}


def model_fingerprint(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for key, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def pack(strings: list[list[bytes]]) -> bytes:
    images = len(strings[0])
    out = [_U8.pack(len(strings)), _U32.pack(images)]
    for per_model in strings:
        for s in per_model:
            out += [_U32.pack(len(s)), bytes(s)]
    return b"".join(out)


def unpack(payload: bytes, images: int) -> list[list[bytes]]:
    """The strings of a payload written by `pack`, for `images` images; every length checked against what remains."""
    if len(payload) < _U8.size + _U32.size:
        raise CorruptBitstream("the compressai-model payload is too short to hold its string counts; the bitstream is truncated, re-encode it.")
    (lists,), (count,) = _U8.unpack_from(payload, 0), _U32.unpack_from(payload, 1)
    if not 1 <= lists <= MAX_LISTS or count != images:
        raise CorruptBitstream(f"the compressai-model payload announces {lists} string lists for {count} images, but the header has {images} images; the bitstream is damaged, re-encode it.")
    pos, strings = 5, []
    for _ in range(lists):
        per_model = []
        for _ in range(images):
            if pos + 4 > len(payload):
                raise CorruptBitstream("the compressai-model payload ends inside a string length; the bitstream is truncated, re-encode it.")
            (n,) = _U32.unpack_from(payload, pos)
            if pos + 4 + n > len(payload):
                raise CorruptBitstream(f"the compressai-model payload announces a string of {n} bytes but only {len(payload) - pos - 4} remain; the bitstream is truncated, re-encode it.")
            per_model.append(payload[pos + 4 : pos + 4 + n])
            pos += 4 + n
        strings.append(per_model)
    if pos != len(payload):
        raise CorruptBitstream("the compressai-model payload holds more bytes than its strings; the bitstream is damaged, re-encode it.")
    return strings


def offered_models() -> dict[str, str]:
    """The models installed distributions offer, by name: this plugin's `MODELS` and the entry points of `ENTRY_POINTS`."""
    return {**MODELS, **{ep.name: f"{ep.module}:{ep.attr}" for ep in entry_points(group=ENTRY_POINTS)}}


def _call(what: str, function: Callable[[], Any]) -> Any:
    """`function()`, where any exception, SystemExit included, is one sentence (InputError); rdpkit's own errors and an interrupt pass."""
    try:
        return function()
    except (RdpkitError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: BLE001 (a model's code may raise anything, sys.exit() included: never end the run silently)
        raise InputError(f"{what} raised {type(exc).__name__} ({str(exc)[:200] or 'no message'}), so there is no model to code with.") from None


def model_factory(model: str) -> Callable[[], Any]:
    """The factory `model` names: a model an installed distribution offers (`offered_models`, by name or by its path), or any
    ``"package.module:callable"`` only where `rdpkit.options.code_trusted()`; else one sentence, before any module is imported."""
    offered = offered_models()
    if not isinstance(model, str) or not model:
        raise InputError(f"model must name a model an installed distribution offers ({', '.join(sorted(offered))}), got {model!r}.")
    target = offered.get(model, model)
    if target not in offered.values():
        if ":" not in model:
            raise InputError(f"no installed distribution offers a compressai-model called {model!r}; the models offered are {', '.join(sorted(offered))} "
                             f"(a distribution adds one with an entry point in the group {ENTRY_POINTS!r}).")
        if not code_trusted():
            raise InputError(f"model={model!r} would import and run that code, which rdpkit does only for a configuration you trust: name a model an "
                             f"installed distribution offers ({', '.join(sorted(offered))}), pass --trust-code on the command line, or pass the model itself from Python.")
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise InputError(f"model must name a factory as 'package.module:callable' that returns the network, got {model!r}.")

    def find() -> Any:
        try:
            return reduce(getattr, attr.split("."), importlib.import_module(module_name))
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot import the model factory {model!r} ({type(exc).__name__}: {exc}); check the module is installed and the name is right.") from None

    factory = _call(f"importing the model factory {model!r}", find)
    if not callable(factory):
        raise InputError(f"the model factory {model!r} is a {type(factory).__name__}, not a callable that returns the network.")
    return factory  # type: ignore[no-any-return]


def build(model: str, weights: str | None) -> torch.nn.Module:
    """The model `model` names (see `model_factory`), with a state dict loaded from `weights` (weights_only)."""
    factory = model_factory(model)
    net = _call(f"the model factory {model!r}", factory)
    if weights is not None:
        state = compressai.read(weights)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise InputError(f"{weights!r} does not fit the model {model!r} ({str(exc).splitlines()[0]}); give the state dict saved from that model.") from None
    return net  # type: ignore[no-any-return]


class CompressAIProtocolCodec(Codec):
    """An rdpkit codec around a model with compress/decompress (CompressAI's protocol); `stride` is the model's total
    downsampling (sizes are padded to a multiple of it; its latent is the padded size over it)."""

    def __init__(self, model: Any = "shipped-hyperprior", weights: str | None = None, stride: int = 64,
                 max_pixels: int = MAX_PIXELS) -> None:
        self.max_pixels = check_int(max_pixels, 1, 1 << 40, "max_pixels")
        net = build(model, weights) if isinstance(model, str) else model
        if not (callable(getattr(net, "compress", None)) and callable(getattr(net, "decompress", None))):
            raise InputError(f"{type(net).__name__} has no compress(x) and decompress(strings, shape) methods; it does not follow CompressAI's protocol.")
        self.net = net.eval() if isinstance(net, torch.nn.Module) else net
        self.stride = check_int(stride, 1, 4096, "stride")
        self.fingerprint = model_fingerprint(net) if isinstance(net, torch.nn.Module) else str(getattr(net, "fingerprint", type(net).__qualname__))

    @property
    def codec_name(self) -> str:
        return self.info.name if self.info is not None else "compressai-model"

    def _param(self) -> torch.Tensor | None:
        return next(iter(self.net.parameters()), None) if isinstance(self.net, torch.nn.Module) else None

    def _encode(self, x: torch.Tensor) -> Bitstream:
        p = self._param()
        xp = pad(x, self.stride).to(device=p.device if p is not None else x.device, dtype=p.dtype if p is not None else torch.float32)
        with torch.no_grad():
            out = self.net.compress(xp)
        strings, shape = out["strings"], [int(s) for s in out["shape"]]
        expected = self._latent(*xp.shape[-2:])
        if shape != expected:
            raise InputError(f"the model gives latent shape {shape} for {xp.shape[-2]}×{xp.shape[-1]} images, not the {expected} of a stride of {self.stride}; "
                             f"create the codec with stride set to the model's total downsampling.")
        header = {"dtype": dtype_name(x), "latent": shape, "model": self.fingerprint}
        return Bitstream(self.codec_name, tuple(x.shape), pack(strings), header)

    def _latent(self, hp: int, wp: int) -> list[int]:
        """The latent shape of padded images of hp×wp pixels."""
        return [hp // self.stride, wp // self.stride]

    def _decode(self, bits: Bitstream, seed: int | None) -> torch.Tensor:
        n, c, h, w = check_shape(bits)
        expected = self._latent(*bits.padded_size(self.max_pixels, self.stride))
        if field(bits, "model", str) != self.fingerprint:
            raise CorruptBitstream(f"this bitstream was written by model {bits.header.get('model')!r}, not by this one ({self.fingerprint}); decode it with the model that wrote it.")
        latent = field(bits, "latent", list)
        if not (latent == expected and all(type(s) is int for s in latent)):
            raise CorruptBitstream(f"the compressai-model header gives latent shape {short_repr(latent)} for {h}×{w} images, not the {expected} of this model's stride {self.stride}; "
                                   f"the bitstream is damaged, re-encode it.")
        dtype = header_dtype(bits)
        strings = unpack(bits.payload, n)
        try:
            with torch.no_grad():
                x_hat = self.net.decompress(strings, latent)["x_hat"]
        except Exception as exc:  # noqa: BLE001 (whatever the user's model raises on damaged strings)
            raise CorruptBitstream(f"the model's decompress failed on these bytes ({type(exc).__name__}); the bitstream is damaged or from another model, re-encode it.") from None
        if not (isinstance(x_hat, torch.Tensor) and x_hat.ndim == 4 and x_hat.shape[0] == n and x_hat.shape[1] == c and x_hat.shape[2] >= h and x_hat.shape[3] >= w):
            raise CorruptBitstream(f"the model's decompress returned {getattr(x_hat, 'shape', type(x_hat).__name__)}, not {n}×{c}×{h}×{w} or larger; the bitstream does not belong to this model.")
        return x_hat[:, :, :h, :w].clamp(0, 1).to(dtype)


class ProtocolView:
    """An rdpkit codec seen through CompressAI's protocol: one string per image (its rdpkit bitstream), shape = the image size over `stride`.

    What a CompressAI-style tool can call on rdpkit's codecs; also the adapter's default model. The
    shape is there for the protocol (and the adapter's check of it): the strings alone decode.
    """

    def __init__(self, codec: Codec, stride: int = 64) -> None:
        self.codec = codec
        self.stride = check_int(stride, 1, 4096, "stride")
        self.fingerprint = getattr(codec, "fingerprint", codec.codec_name)

    def compress(self, x: torch.Tensor) -> dict[str, Any]:
        shape = [-(-side // self.stride) for side in x.shape[-2:]]
        return {"strings": [[self.codec.encode(x[i : i + 1]).to_bytes() for i in range(x.shape[0])]], "shape": shape}

    def decompress(self, strings: list[list[bytes]], shape: list[int]) -> dict[str, torch.Tensor]:
        return {"x_hat": torch.cat([self.codec.decode(s) for s in strings[0]])}


def shipped_hyperprior() -> ProtocolView:
    """The shipped hyperprior at its middle rate, through the protocol (the adapter's default model)."""
    return ProtocolView(HyperpriorCodec(quality=3))
