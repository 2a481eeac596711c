"""Fuzzing: every decoder of untrusted bytes against random and mutated inputs.

Targets, each fed `--inputs` inputs drawn from its own generator (seeded from `--seed` and
the target's name, so one target's inputs do not depend on which others run):

* jpeg, webp, sq, gan, factorized, hyperprior, hific, compressai-model: `codec.decode(bytes, seed=0)`. The gan codec is fitted briefly on
  digits with its `quick_fit` options. Inputs are mutations of valid bitstreams of that
  codec (payload bit flips, truncations, insertions, deletions, splices and random payloads
  under a valid CRC; header JSON edits with huge, zero, negative, fractional or mistyped
  shapes, dtypes, levels, dims and model names; raw container damage), other codecs'
  bitstreams, and pure random bytes. The learned codecs run their shipped models (compressai-model
  wraps the shipped hyperprior behind CompressAI's compress/decompress protocol).
* bitstream: `rdpkit.Bitstream.from_bytes` on mutated containers of every codec.
* rows: what `rdpkit results` and `rdpkit report` read (the command itself, as JSON and, for
  one input in eight, as tables, which are slow to draw; the report's frames and tables short
  of drawing figures) from a store whose rows of finished sweep,
  recovery and evaluate trials are edited into valid JSON of the wrong shape (keys removed or
  renamed, values of another type or range, containers emptied, wrapped or of the other kind).
* resultjson: `rdpkit.anchors.read` (CompressAI's result files, as `rdpkit bd` and `--anchor`
  read them) and the BD table on mutated bundled files and rdpkit's own, syntax and shape alike.
* images: a dataset folder of one mutated PNG or JPEG file, read as `rdpkit evaluate --data` reads it.
* models: mutated copies of the shipped model files of rdpkit-learned-codecs (safetensors tensor
  table, metadata configuration, tensor bytes and integer tables, the file; their JSON records
  mostly re-signed with the new sha256 so that the damage reaches past the digest), loaded with
  `weights=PATH` and used to code a small image. Slow: about 50 ms an input. Its first
  finding (a factorized model file whose weights were changed to other finite values decoded NaN
  pixels, 3 in the first 23,200 inputs of seed 1) is refused since in one sentence (issue 23).
* store: `rdpkit.store.Store(path, readonly=True)`, then every trial, status and artifact it
  lists, on mutated copies of a small store written with rdpkit's own API in a temporary
  folder (byte and page damage, and rows edited with SQL: non-JSON configs and results, a
  mangled schema version, a schema-1 store whose rows are not what their kinds expect).

An rdpkit error (`rdpkit.RdpkitError`) is a correct refusal. Every other exception, an input
decoded to something that breaks the decoder's contract (shape, dtype, values in [0, 1]),
a warning that escapes, or an input still running after `--timeout` seconds is a finding: it
is counted per target and written to `--out` (the input as NAME.bin, what happened as
NAME.txt; at most `--keep` per distinct finding). Inputs over `--slow` seconds, and inputs
after which the process's peak memory grew by more than `--memory-report` MiB, are reported
and saved the same way; they can be legitimate (a flat lossless WebP of 80 Mpixels takes
40 bytes). The address space is capped at its size after setup plus `--memory` MiB, so an
input that tries to allocate more fails with an exception (a finding) instead of
exhausting the machine.

Exit status 1 if there is any finding; slow and memory reports alone leave it 0.

    .venv/bin/python benchmarks/fuzz_decoders.py [--inputs 100000] [--seed 0]
        [--targets jpeg webp sq gan factorized hyperprior hific compressai-model bitstream store rows resultjson images models]
        [--out fuzz-findings]
    .venv/bin/python benchmarks/fuzz_decoders.py --replay fuzz-findings/sq-...bin --targets sq
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

import rdpkit
from rdpkit.bitstream import Bitstream
from rdpkit.data import digits, load_image
from rdpkit.store import Store

TARGETS = ("jpeg", "webp", "sq", "gan", "factorized", "hyperprior", "hific", "compressai-model", "bitstream", "store", "rows",
           "resultjson", "images", "models")
CODECS = ("jpeg", "webp", "sq", "gan", "factorized", "hyperprior", "hific", "compressai-model")
#: The learned codecs run on their shipped models (rdpkit-learned-codecs), with these options; compressai-model wraps the
#: shipped hyperprior behind CompressAI's compress/decompress protocol.
LEARNED = {"factorized": {"quality": 3}, "hyperprior": {"quality": 3}, "hific": {"quality": 1}, "compressai-model": {}}


class Timeout(BaseException):
    """Raised by the alarm inside a decoder that runs too long; a BaseException so no `except Exception` swallows it."""


@dataclass
class Stats:
    """What one target did with its inputs."""

    inputs: int = 0
    accepted: int = 0
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    findings: collections.Counter[str] = field(default_factory=collections.Counter)  # what fails the run
    slow: int = 0  # reported, not failing
    memory: int = 0  # reported, not failing
    seconds: float = 0.0
    slowest: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "accepted": self.accepted, "refused": sum(self.refused.values()),
                "refused_by": dict(self.refused), "findings": dict(self.findings), "slow": self.slow, "memory": self.memory,
                "seconds": round(self.seconds, 2), "slowest": round(self.slowest, 4)}


# -- building inputs ----------------------------------------------------------------------

def container(head: Any, payload: bytes, *, crc: int | None = None) -> bytes:
    """rdpkit's container around any JSON header (Bitstream.to_bytes only writes valid ones)."""
    text = json.dumps(head, separators=(",", ":")).encode()
    crc = zlib.crc32(payload) if crc is None else crc
    return b"RDPK\x01" + len(text).to_bytes(4, "big") + text + crc.to_bytes(4, "big") + payload


def split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """A valid container's header (with codec and shape) and payload."""
    head_len = int.from_bytes(raw[5:9], "big")
    return json.loads(raw[9 : 9 + head_len]), raw[9 + head_len + 4 :]


INTERESTING_INTS = [0, -1, 1, 2, 3, 7, 255, 256, 4095, 4096, 4097, 16383, 16384, 65500, 65501, 8000, 2**31 - 1, 2**31,
                    2**32, 2**40, 2**53, 2**63 - 1, 2**63, 2**64, 10**12, 10**30, -(2**31), -(2**63)]
ODD_VALUES = [None, True, False, 1.5, -0.0, 1e308, float("inf"), float("nan"), "8", "", "x" * 300, [], [8], {"a": 1}, [[[[1]]]]]
DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int64", "bool", "complex64", "float8_e4m3fn",
          "torch.float32", "", "FLOAT32", 5, None]
CODEC_NAMES = ["jpeg", "webp", "sq", "gan", "JPEG", "", "rdpkit:sq", "mse", 5, None]


def byte_mutation(rng: np.random.Generator, data: bytes, others: list[bytes]) -> bytes:
    """One random byte-level change: flips, cuts, insertions, deletions, duplications, overwrites, splices."""
    b = bytearray(data)
    kind = int(rng.integers(9))
    n = len(b)
    if kind == 0 and n:  # flip 1–8 bits
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(n))
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncate (often to a multiple of 4, which reaches past the word check)
        cut = int(rng.integers(n + 1))
        b = b[: cut - cut % 4 if rng.random() < 0.5 else cut]
    elif kind == 2:  # insert random bytes
        i = int(rng.integers(n + 1))
        b[i:i] = rng.bytes(int(rng.choice([1, 4, 8, 16, 64])))
    elif kind == 3 and n:  # delete a span
        i = int(rng.integers(n))
        del b[i : i + int(rng.integers(1, 33))]
    elif kind == 4 and n:  # duplicate a span
        i = int(rng.integers(n))
        j = min(n, i + int(rng.integers(1, 65)))
        b[j:j] = b[i:j]
    elif kind == 5 and n:  # overwrite with an interesting word
        i = int(rng.integers(n))
        value = int(rng.choice([0, 0xFF, 0x7F, 0x80, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000]))
        b[i : i + 4] = value.to_bytes(4, "big")[: int(rng.integers(1, 5))]
    elif kind == 6 and others:  # splice with another input
        other = others[int(rng.integers(len(others)))]
        b = b[: int(rng.integers(n + 1))] + other[int(rng.integers(len(other) + 1)) :]
    elif kind == 7:  # append junk
        b += rng.bytes(int(rng.integers(1, 64)))
    elif n:  # zero or 0xff a run
        i = int(rng.integers(n))
        b[i : i + int(rng.integers(1, 17))] = bytes([int(rng.choice([0, 255]))]) * min(16, n - i)
    return bytes(b)


def mutations(rng: np.random.Generator, data: bytes, others: list[bytes]) -> bytes:
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        data = byte_mutation(rng, data, others)
    return data


def header_edit(rng: np.random.Generator, head: dict[str, Any]) -> dict[str, Any]:
    """One edit of a bitstream header: shapes, dtypes, levels, dims, model names and codec names gone wrong."""
    head = json.loads(json.dumps(head))
    kind = int(rng.integers(8))
    pick = rng.choice
    if kind <= 2:  # one shape entry
        shape = head.get("shape")
        if isinstance(shape, list) and shape:
            value = INTERESTING_INTS[int(rng.integers(len(INTERESTING_INTS)))] if rng.random() < 0.75 else ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
            shape[int(rng.integers(len(shape)))] = value
    elif kind == 3:  # the whole shape
        head["shape"] = [[], [1, 1, 8], [1, 1, 8, 8, 1], "1x1x8x8", None, 5, [1, 1, 8000, 8000], [2**20, 1, 8, 8],
                         [1, 3, 9000, 10000], [1, 1, 1, 2**31]][int(rng.integers(10))]
    elif kind == 4:
        head["dtype"] = DTYPES[int(rng.integers(len(DTYPES)))]
    elif kind == 5:  # a codec's own field
        key = str(pick([k for k in head if k not in ("codec", "shape", "dtype")] or ["levels"]))
        pool = INTERESTING_INTS + ODD_VALUES + ["0" * 16, "deadbeefdeadbeef"]
        head[key] = pool[int(rng.integers(len(pool)))]
    elif kind == 6:
        if rng.random() < 0.5 and len(head) > 1:
            del head[str(pick(list(head)))]
        else:
            head[str(pick(["extra", "levels", "dim", "model", "quality"]))] = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
    else:
        head["codec"] = CODEC_NAMES[int(rng.integers(len(CODEC_NAMES)))]
    return head


def bitstream_input(rng: np.random.Generator, own: list[bytes], foreign: list[bytes]) -> bytes:
    """One input for a decoder: mostly its own valid bitstreams, damaged in one of many ways."""
    raw = own[int(rng.integers(len(own)))]
    head, payload = split(raw)
    r = rng.random()
    if r < 0.35:  # the payload damaged, behind a valid CRC
        return container(head, mutations(rng, payload, [split(o)[1] for o in own]))
    if r < 0.60:  # the header edited (sometimes the payload too)
        return container(header_edit(rng, head), mutations(rng, payload, []) if rng.random() < 0.3 else payload)
    if r < 0.72:  # the container itself damaged (mostly fails the CRC or the signature)
        return mutations(rng, raw, own)
    if r < 0.82:  # a random payload, often whole words
        size = int(rng.choice([0, 4, 8, 12, 16, 64, 256, 1024]) if rng.random() < 0.6 else rng.integers(0, 600))
        return container(head, rng.bytes(size))
    if r < 0.90:  # another codec's payload under this codec's header, or another codec's bitstream as it is
        other_head, other_payload = split(foreign[int(rng.integers(len(foreign)))])
        return container(head, other_payload) if rng.random() < 0.5 else container(other_head, other_payload)
    if r < 0.95:  # random bytes after a valid signature and version
        return b"RDPK\x01" + rng.bytes(int(rng.integers(0, 80)))
    return rng.bytes(int(rng.integers(0, 200)))


# -- targets ------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    seeds: list[bytes]
    draw: Callable[[np.random.Generator], bytes]
    run: Callable[[bytes], None]
    cleanup: Callable[[], None] = lambda: None


class ContractBroken(Exception):
    """A decoder accepted an input and returned something that breaks its contract."""


def check_decoded(raw: bytes, x_hat: Any) -> None:
    bits = Bitstream.from_bytes(raw)
    want_dtype = getattr(torch, str(bits.header.get("dtype")), None)
    if not isinstance(x_hat, torch.Tensor) or tuple(x_hat.shape) != bits.shape or x_hat.dtype != want_dtype:
        raise ContractBroken(f"decoded to {type(x_hat).__name__} {getattr(x_hat, 'shape', '')} {getattr(x_hat, 'dtype', '')}, header {bits.shape} {bits.header.get('dtype')}")
    lo, hi = torch.aminmax(x_hat)  # no temporary the size of x̂: it may be the largest tensor the decoder made
    if not (float(lo) >= 0 and float(hi) <= 1):  # NaN fails both
        raise ContractBroken("decoded values outside [0, 1] or not finite")


def codec_bitstreams(gan_codec: rdpkit.Codec | None, learned: dict[str, rdpkit.Codec]) -> dict[str, list[bytes]]:
    """Valid bitstreams of every codec: small images, several options, dtypes and batch sizes."""
    gray = digits()[:7]
    rgb = load_image("builtin:astronaut", size=16)
    rgb32 = load_image("builtin:coffee", size=32)
    out: dict[str, list[bytes]] = {}
    options = {"jpeg": [{"quality": 10}, {"quality": 75}, {"quality": 95}],
               "webp": [{"quality": 0}, {"quality": 80}, {"lossless": True}],
               "sq": [{"levels": 2}, {"levels": 16}, {"levels": 256}, {"levels": 4096}]}
    batches = [gray[:1], gray[:3], rgb, rgb32.double(), gray[:2].half()]
    for name, option_sets in options.items():
        out[name] = [rdpkit.codec(name, **o).encode(x).to_bytes() for o in option_sets for x in batches]
    out["jpeg"] += [pillow_bitstream("JPEG", image, **o) for image, o in (
        (Image.new("CMYK", (16, 16), (10, 20, 30, 40)), {}), (Image.new("RGB", (24, 16), "red"), {"progressive": True}),
        (Image.new("L", (8, 8), 128), {"exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x00\x00\x03\x00\x00\x00\x01\x00\x08\x00\x00"}),
        (Image.new("RGB", (16, 16), "blue"), {"icc_profile": b"\x00" * 128}), (Image.new("RGB", (16, 16)), {"subsampling": "4:4:4", "qtables": "web_high"}))]
    frames = [Image.new("RGBA", (16, 16), (255, 0, 0, 128)), Image.new("RGBA", (16, 16), (0, 255, 0, 255))]
    out["webp"] += [pillow_bitstream("WEBP", frames[0], lossless=True), pillow_bitstream("WEBP", frames[0], quality=50),
                    pillow_bitstream("WEBP", frames[0], save_all=True, append_images=frames[1:], duration=10),
                    pillow_bitstream("WEBP", Image.new("RGB", (20, 12), "white"), exif=b"Exif\x00\x00junk")]
    if gan_codec is not None:
        data = digits()
        out["gan"] = [gan_codec.encode(data[i : i + n].to(dtype)).to_bytes()
                      for i, n, dtype in ((0, 1, torch.float32), (1, 2, torch.float32), (3, 7, torch.float64), (10, 50, torch.float32), (60, 300, torch.float16))]
    for name in learned:
        out[name] = [learned[name].encode(x).to_bytes() for x in (rgb, rgb32, rgb32.double(), torch.cat([rgb32, rgb32.flip(-1)]))]
    return out


def pillow_bitstream(format: str, image: Image.Image, **options: Any) -> bytes:
    """A bitstream framing a file Pillow wrote with options rdpkit never uses (CMYK, progressive, EXIF, alpha, animation)."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    data = buffer.getvalue()
    channels = 1 if image.mode == "L" else 3
    return container({"codec": format.lower(), "shape": [1, channels, image.height, image.width], "dtype": "float32"}, len(data).to_bytes(4, "big") + data)


def announce_size(rng: np.random.Generator, raw: bytes) -> bytes:
    """A Pillow bitstream whose first image file announces another size (its header sometimes agreeing)."""
    head, payload = split(raw)
    b = bytearray(payload)
    h, w = (int(rng.choice([0, 1, 7, 8, 9000, 9500, 12000, 16383, 16384, 20000, 65500, 65535])) for _ in range(2))
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):  # JPEG SOF: length, precision, height, width
        if (at := b.find(marker)) >= 0:
            b[at + 5 : at + 9] = h.to_bytes(2, "big") + w.to_bytes(2, "big")
    if (at := b.find(b"\x9d\x01\x2a")) >= 0:  # VP8 key frame: 14-bit width and height, little-endian
        b[at + 3 : at + 7] = (w & 0x3FFF).to_bytes(2, "little") + (h & 0x3FFF).to_bytes(2, "little")
    if (at := b.find(b"VP8L")) >= 0:  # VP8L: signature byte, then width−1 and height−1 in 14 bits each
        bits = ((w - 1) & 0x3FFF) | (((h - 1) & 0x3FFF) << 14) | (b[at + 12] >> 4 << 28 if len(b) > at + 12 else 0)
        b[at + 9 : at + 13] = bits.to_bytes(4, "little")
    if (at := b.find(b"VP8X")) >= 0:  # VP8X: flags, reserved, then canvas width−1 and height−1 in 24 bits
        b[at + 12 : at + 18] = ((w - 1) % 2**24).to_bytes(3, "little") + ((h - 1) % 2**24).to_bytes(3, "little")
    if rng.random() < 0.5 and isinstance(head.get("shape"), list):
        head["shape"][2:] = [h, w]
    return container(head, bytes(b))


def codec_target(name: str, codec: rdpkit.Codec, streams: dict[str, list[bytes]]) -> Target:
    own = streams[name]
    foreign = [s for other, ss in streams.items() if other != name for s in ss]

    def draw(rng: np.random.Generator) -> bytes:
        if name in ("jpeg", "webp") and rng.random() < 0.1:
            return announce_size(rng, own[int(rng.integers(len(own)))])
        return bitstream_input(rng, own, foreign)

    def run(data: bytes) -> None:
        check_decoded(data, codec.decode(data, seed=0))

    return Target(name, own, draw, run)


def bitstream_target(streams: dict[str, list[bytes]]) -> Target:
    every = [s for ss in streams.values() for s in ss]

    def run(data: bytes) -> None:
        bits = Bitstream.from_bytes(data)
        if Bitstream.from_bytes(bits.to_bytes()) != bits:
            raise ContractBroken("from_bytes(to_bytes(b)) differs from b")

    return Target("bitstream", every, lambda rng: bitstream_input(rng, every, every), run)


def make_store(folder: Path) -> Path:
    """A small valid store, written with rdpkit's own API: done, failed and running trials, with artifacts."""
    path = folder / "seed.sqlite"
    with Store(path) as store:
        for i in range(3):
            key = f"trial{i}"
            store.claim(key, "sweep", {"codec": "sq", "levels": 2 + i})
            store.finish(key, {"bpp": 0.5 * i, "distortions": {"mse": 0.01 * i}}, {"x_hat.png": bytes(range(256)) * 4, "log.txt": b"ok"})
        store.claim("trial9", "recovery", {"distortion": "mse"})
        store.fail("trial9", "ValueError: boom")
        store.claim("running", "recovery", {"distortion": "ssim"})
    return path


def store_variants(seed: Path) -> list[bytes]:
    """The seed store and copies edited with SQL where byte damage rarely reaches: the values rows hold."""
    edits = [
        [],
        ["UPDATE trials SET config = 'not json' WHERE key = 'trial0'"],
        ["UPDATE trials SET result = '{\"bpp\": ' WHERE key = 'trial1'"],
        ["UPDATE trials SET result = '[1, 2]' WHERE key = 'trial1'"],
        ["UPDATE trials SET config = '5' WHERE key = 'trial2'"],
        ["UPDATE trials SET started = 'yesterday' WHERE key = 'trial0'"],
        ["UPDATE trials SET status = 'paused' WHERE key = 'trial0'"],
        ["UPDATE meta SET value = 'two' WHERE name = 'schema'"],
        ["UPDATE meta SET value = '99' WHERE name = 'schema'"],
        ["DELETE FROM meta"],
        ["DROP TABLE meta"],  # schema 1, with kinds whose upgrades expect other rows
        ["DROP TABLE meta", "UPDATE trials SET config = '{}' WHERE kind = 'recovery'"],
        ["DROP TABLE artifacts"],
        ["UPDATE trials SET owner = 'host:notapid'"],
    ]
    out = []
    for i, statements in enumerate(edits):
        path = seed.with_name(f"variant{i}.sqlite")
        shutil.copyfile(seed, path)
        db = sqlite3.connect(path, isolation_level=None)
        for statement in statements:
            db.execute(statement)
        db.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        db.close()
        out.append(path.read_bytes())
        path.unlink()
    return out


def page_mutation(rng: np.random.Generator, data: bytes) -> bytes:
    """SQLite-aware damage: whole pages zeroed, swapped or cut, and header fields overwritten."""
    page = int.from_bytes(data[16:18], "big") or 65536 if len(data) >= 18 else 4096
    pages = max(1, len(data) // page)
    b = bytearray(data)
    kind = int(rng.integers(4))
    i, j = int(rng.integers(pages)), int(rng.integers(pages))
    if kind == 0:
        b[i * page : (i + 1) * page] = bytes(page)
    elif kind == 1:
        b[i * page : (i + 1) * page], b[j * page : (j + 1) * page] = b[j * page : (j + 1) * page], b[i * page : (i + 1) * page]
    elif kind == 2:
        b = b[: i * page]
    else:  # a field of the 100-byte database header
        at = int(rng.choice([16, 18, 19, 20, 21, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 92, 96]))
        b[at : at + 4] = rng.bytes(4)
    return bytes(b)


def store_target(folder: Path) -> Target:
    seeds = store_variants(make_store(folder))
    path = folder / "fuzzed.sqlite"

    def draw(rng: np.random.Generator) -> bytes:
        data = seeds[int(rng.integers(len(seeds)))]
        r = rng.random()
        if r < 0.15:
            return data
        if r < 0.55:
            return mutations(rng, data, seeds)
        if r < 0.95:
            return page_mutation(rng, data)
        return b"SQLite format 3\x00" + rng.bytes(int(rng.integers(0, 4096)))

    def cleanup() -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")

    def run(data: bytes) -> None:
        cleanup()
        path.write_bytes(data)
        with Store(path, readonly=True) as store:
            store.kinds()
            for t in store.trials():
                t.as_dict()
                store.get(t.key)
                store.status(t.key)
                store.owner_alive(t.key)
                for name in store.artifact_names(t.key):
                    store.artifact(t.key, name)

    return Target("store", seeds, draw, run, cleanup)


# -- JSON documents of valid syntax and the wrong shape ------------------------------------

def _json_places(value: Any, limit: int = 400) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value inside a JSON document, breadth first, at most `limit`."""
    places: list[tuple[Any, Any]] = []
    todo = collections.deque([value])
    while todo and len(places) < limit:
        node = todo.popleft()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            places.append((node, k))
            todo.append(v)
    return places


def json_mutation(rng: np.random.Generator, document: Any) -> Any:
    """One edit of a JSON document that keeps it valid JSON: a key removed or renamed, a value of another type or
    range, a container emptied, wrapped or turned into the other kind, a string where a number belongs."""
    document = json.loads(json.dumps(document))
    places = _json_places(document)
    if not places or rng.random() < 0.04:  # the whole document of another shape
        return [[1, 2], [], None, 5, "x", {}, {"a": 1}, [document]][int(rng.integers(8))]
    node, key = places[int(rng.integers(len(places)))]
    value = node[key]
    kind = int(rng.integers(8))
    if kind == 0 and isinstance(node, dict):
        del node[key]
    elif kind == 1 and isinstance(node, dict):
        node[str(key) + str(rng.choice(["_", "X", ""]))[:1] or "x"] = node.pop(key)
    elif kind == 2:
        pool = INTERESTING_INTS + ODD_VALUES
        node[key] = pool[int(rng.integers(len(pool)))]
    elif kind == 3:  # the same value as another JSON type
        node[key] = str(value) if not isinstance(value, str) else ([value] if rng.random() < 0.5 else {"value": value})
    elif kind == 4 and isinstance(value, (list, dict)):
        node[key] = type(value)() if rng.random() < 0.5 else (list(value.values()) if isinstance(value, dict) else dict(enumerate(value)))
    elif kind == 5 and isinstance(value, list) and value:
        node[key] = value + value[: int(rng.integers(1, len(value) + 1))] if rng.random() < 0.5 else value[: int(rng.integers(len(value)))]
    elif kind == 6 and isinstance(value, (int, float)) and not isinstance(value, bool):
        node[key] = float(rng.choice([-1.0, 0.0, 1e-300, 1e300, -1e300])) * (1 if rng.random() < 0.5 else value) if value else 1e300
    else:
        node[key] = [value] if rng.random() < 0.5 else {"x": value}
    return document


def json_text(document: Any) -> str:
    """`document` as JSON text as Python writes it (NaN and Infinity included, as the store's rows hold them)."""
    return json.dumps(document, default=str)


# -- store rows of valid JSON but the wrong shape, read by `results` and `report` ----------

#: A sweep small enough to run in seconds, with each kind of measurement a report reads.
ROWS_SWEEP = {"sweep": {"name": "fuzz"}, "data": {"source": "digits", "limit": 60},
              "codec": [{"name": "sq", "grid": {"levels": [2, 8]}}, {"name": "jpeg", "grid": {"quality": [50]}}],
              "evaluate": {"distortions": ["mse"], "divergences": ["wasserstein-sliced"], "perception": "wasserstein-sliced", "samples": 4}}


def make_rows_store(folder: Path) -> Path:
    """A store of finished sweep, recovery and evaluate trials, written by rdpkit's own harnesses."""
    from rdpkit.evaluate.run import evaluate
    from rdpkit.recovery.audit import audit
    from rdpkit.sweep.config import SweepConfig
    from rdpkit.sweep.runner import run_sweep

    path = folder / "rows.sqlite"
    quiet = {"store": path, "executor": "inline", "progress": False}
    run_sweep(SweepConfig.from_dict(ROWS_SWEEP), **quiet)  # type: ignore[arg-type]
    audit(["mse"], images=["builtin:astronaut"], inits=["noise"], size=16, steps=5, device="cpu", **quiet)
    evaluate(["jpeg,quality=[30,70]", "webp,quality=50"], "builtin:astronaut", distortions=["mse"], features=None, **quiet)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    db.close()
    return path


def read_like_results_and_report(path: Path, *, table: bool = True) -> None:
    """What `rdpkit results` (as JSON, and as tables with `table`) and `rdpkit report` read from a store, short of drawing figures."""
    from click.testing import CliRunner

    from rdpkit.cli import cli
    from rdpkit.evaluate.report import bd_frame, per_image_frame, summary_frame
    from rdpkit.evaluate.run import from_store as evaluation_from_store
    from rdpkit.recovery.audit import from_store as audit_from_store
    from rdpkit.sweep.report import (
        bd_table,
        perception_note,
        results_frame,
        settings_frame,
    )

    for extra in ([[]] if table else []) + [["--json"]]:
        out = CliRunner().invoke(cli, ["results", "--store", str(path), *extra])
        if out.exit_code == 2:  # the command's one sentence for an rdpkit error
            raise rdpkit.InputError(out.output.strip()[-300:])
        if out.exception is not None:
            raise out.exception
    with Store(path, readonly=True) as db:
        kinds = db.kinds()
        if "sweep" in kinds:
            frame = settings_frame(results_frame(db))
            bd_table(frame)
            perception_note(frame)
        if "recovery" in kinds:
            audit_from_store(db).to_dataframe()
        if "evaluate" in kinds:
            evaluation = evaluation_from_store(db)
            per_image_frame(evaluation)
            summary_frame(evaluation)
            files = evaluation.result_files()
            bd_frame(files, files[0].name)


def rows_target(folder: Path) -> Target:
    """Rows of the seed store edited into valid JSON of another shape; an input is the JSON list of its edits
    ([key, column, new text]), applied to a fresh copy of the seed store."""
    seed = make_rows_store(folder)
    with Store(seed, readonly=True) as db:
        rows = [(t.key, column, value) for t in db.trials() for column, value in (("config", t.config), ("result", t.result)) if value]
    seed_bytes = seed.read_bytes()
    path = folder / "rows-fuzzed.sqlite"

    def draw(rng: np.random.Generator) -> bytes:
        edits = []
        for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
            key, column, value = rows[int(rng.integers(len(rows)))]
            edits.append([key, column, json_text(json_mutation(rng, value))])
        return json.dumps(edits).encode()

    def cleanup() -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")

    def run(data: bytes) -> None:
        cleanup()  # the previous input's journal would be replayed into this one
        path.write_bytes(seed_bytes)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")  # a scratch copy: no need to wait for the disk
        for key, column, text in json.loads(data):
            db.execute(f"UPDATE trials SET {column} = ? WHERE key = ?", (text, key))  # column: config or result
        db.close()
        read_like_results_and_report(path, table=zlib.crc32(data) % 8 == 0)  # drawing tables is slow, and reads nothing more

    return Target("rows", [json.dumps([]).encode()], draw, run, cleanup)


# -- result files in CompressAI's JSON format ---------------------------------------------

def resultjson_target(folder: Path) -> Target:
    """`rdpkit.anchors.read` (what `rdpkit bd`, `evaluate --anchor` and `report --anchor` read) on mutated published
    files and rdpkit's own, then every use the BD table makes of a file: its curves, rates and directions."""
    from rdpkit.anchors import FOLDER, published
    from rdpkit.anchors import read as read_result
    from rdpkit.evaluate.report import bd_frame

    seeds = [p.read_bytes() for p in sorted((FOLDER / "kodak").glob("*.json"))]
    seeds.append(json.dumps({"name": "own", "description": "rdpkit", "meta": {"source": "rdpkit", "dataset": "kodak", "higher_is_better": ["psnr-rgb"]},
                             "results": {"bpp": [0.2, 0.5, 1.0], "payload_bpp": [0.19, 0.49, 0.99], "psnr-rgb": [28.0, 31.0, 35.0],
                                         "ms-ssim-rgb": [0.9, 0.95, 0.98]}}).encode())
    documents = [json.loads(s) for s in seeds]
    anchor_curve = published("vtm")
    path = folder / "result.json"

    def draw(rng: np.random.Generator) -> bytes:
        r = rng.random()
        if r < 0.7:
            document = documents[int(rng.integers(len(documents)))]
            for _ in range(int(rng.choice([1, 1, 2, 3]))):
                document = json_mutation(rng, document)
            return json_text(document).encode()
        if r < 0.95:
            return mutations(rng, seeds[int(rng.integers(len(seeds)))], seeds)
        return b"[" * int(rng.integers(1, 200_000)) if rng.random() < 0.5 else rng.bytes(int(rng.integers(0, 300)))

    def run(data: bytes) -> None:
        path.write_bytes(data)
        curve = read_result(path)
        for measure in curve.axes:
            curve.curve(measure)
            curve.higher_is_better(measure)
        curve.rate(True)
        curve.rate(False)
        bd_frame([anchor_curve, curve], anchor_curve.name)

    return Target("resultjson", seeds, draw, run)


# -- dataset image files ------------------------------------------------------------------

def images_target(folder: Path) -> Target:
    """A dataset folder of one mutated PNG or JPEG file, read as `rdpkit evaluate --data FOLDER` reads it."""
    from rdpkit.datasets import SkippedImage, check_images, dataset

    seeds = []
    for format, mode, options in (("PNG", "RGB", {}), ("PNG", "L", {}), ("PNG", "RGBA", {}), ("PNG", "P", {}), ("PNG", "I;16", {}),
                                  ("JPEG", "RGB", {"quality": 80}), ("JPEG", "L", {}), ("JPEG", "RGB", {"progressive": True}), ("JPEG", "CMYK", {})):
        image = Image.new(mode, (24, 16))
        image.putdata([(i * 37) % 256 for i in range(24 * 16)] if mode in ("L", "P", "I;16") else
                      [tuple((i * k) % 256 for k in range(3, 3 + len(mode))) for i in range(24 * 16)])
        buffer = io.BytesIO()
        image.save(buffer, format=format, **options)
        seeds.append(buffer.getvalue())
    data_folder = folder / "images"
    data_folder.mkdir(exist_ok=True)

    def draw(rng: np.random.Generator) -> bytes:
        raw = seeds[int(rng.integers(len(seeds)))]
        return raw if rng.random() < 0.05 else mutations(rng, raw, seeds)

    def run(data: bytes) -> None:
        for old in data_folder.iterdir():
            old.unlink()
        (data_folder / ("image.png" if data[:4] == b"\x89PNG" else "image.jpg")).write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImage)  # the designed note beside the refusal of a folder none of whose images read
            ds, _, _ = check_images(dataset(str(data_folder)))
        for name in ds.images:
            x = load_image(name)
            rdpkit.validation.check_images(x)

    return Target("images", seeds, draw, run)


# -- model files of rdpkit-learned-codecs -------------------------------------------------

#: The shipped model files fuzzed, and the codec that loads each.
MODEL_FILES = {"factorized-small": "factorized", "hyperprior-small": "hyperprior", "hific-q1-lamp0": "hific"}


def safetensors_parts(raw: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def safetensors_bytes(header: Any, data: bytes) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    return len(text).to_bytes(8, "little") + text + data


def model_input(kind: str, model: bytes, record: bytes) -> bytes:
    """One input of the model-files target: the codec kind, the record and the safetensors file, length-prefixed."""
    head = json.dumps({"kind": kind, "record": len(record)}).encode()
    return len(head).to_bytes(4, "big") + head + record + model


def models_target(folder: Path) -> Target:
    """Mutated copies of the shipped model files (safetensors header, metadata configuration, tensors, integer tables;
    their records mostly re-signed with the new sha256, so that the checks behind the digest are reached), loaded with
    `weights=PATH` and used to code a small image."""
    import rdpkit_learned_codecs

    base = Path(rdpkit_learned_codecs.__file__).parent / "weights"
    models = {name: ((base / f"{name}.safetensors").read_bytes(), json.loads((base / f"{name}.json").read_text())) for name in MODEL_FILES}
    x = load_image("builtin:astronaut", size=32)
    path = folder / "model.safetensors"

    def draw(rng: np.random.Generator) -> bytes:
        name = list(models)[int(rng.integers(len(models)))]
        raw, record = models[name]
        header, data = safetensors_parts(raw)
        r = rng.random()
        if r < 0.35:  # the tensor table: shapes, dtypes, offsets, names
            header = json_mutation(rng, header)
            raw = safetensors_bytes(header, data)
        elif r < 0.6:  # the configuration in the metadata
            meta = dict(header.get("__metadata__", {}))
            config = json.loads(meta.get("config", "{}"))
            meta["config"] = json_text(json_mutation(rng, config)) if rng.random() < 0.9 else str(rng.bytes(8))
            raw = safetensors_bytes({**header, "__metadata__": meta}, data)
        elif r < 0.8:  # tensor bytes: integer tables and weights
            entries = [v for k, v in header.items() if k != "__metadata__"]
            entry = entries[int(rng.integers(len(entries)))]
            start, end = entry["data_offsets"]
            chunk = mutations(rng, data[start:end], [])
            raw = safetensors_bytes(header, data[:start] + chunk[: end - start].ljust(end - start, b"\0") + data[end:])
        elif r < 0.9:  # the file itself
            raw = byte_mutation(rng, raw, [])
        record = dict(record)
        if rng.random() < 0.9:  # re-signed: the damage reaches past the digest
            record.update(sha256=hashlib.sha256(raw).hexdigest(), bytes=len(raw))
        else:
            record = json_mutation(rng, record)
        return model_input(MODEL_FILES[name], raw, json_text(record).encode())

    def run(data: bytes) -> None:
        n = int.from_bytes(data[:4], "big")
        head = json.loads(data[4 : 4 + n])
        record, model = data[4 + n : 4 + n + head["record"]], data[4 + n + head["record"] :]
        path.write_bytes(model)
        path.with_suffix(".json").write_bytes(record)
        codec = rdpkit.codec(head["kind"], weights=str(path))
        raw = codec.encode(x).to_bytes()
        check_decoded(raw, codec.decode(raw, seed=0))

    seeds = [model_input(MODEL_FILES[name], raw, json_text(record).encode()) for name, (raw, record) in models.items()]
    return Target("models", seeds, draw, run)


#: The targets that read files rather than bitstreams, each built in a temporary folder.
OTHER_TARGETS: dict[str, Callable[[Path], Target]] = {"store": store_target, "rows": rows_target, "resultjson": resultjson_target,
                                                      "images": images_target, "models": models_target}


def build_targets(names: list[str], folder: Path) -> list[Target]:
    gan_codec = None
    if "gan" in names or "bitstream" in names:
        from rdpkit_gan_codec.codec import GanCodec

        gan_codec = rdpkit.codec("gan").fit(digits()[:500], **GanCodec.quick_fit)
    learned = {name: rdpkit.codec(name, **options) for name, options in LEARNED.items() if name in names or "bitstream" in names}
    streams = codec_bitstreams(gan_codec, learned)
    targets = []
    for name in names:
        if name in CODECS:
            targets.append(codec_target(name, gan_codec if name == "gan" else learned.get(name) or rdpkit.codec(name), streams))
        elif name == "bitstream":
            targets.append(bitstream_target(streams))
        else:
            targets.append(OTHER_TARGETS[name](folder))
    return targets


# -- running ------------------------------------------------------------------------------

def _alarm(signum: int, frame: Any) -> None:
    raise Timeout


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _signature(exc: BaseException) -> str:
    """A finding's identity: the exception type and the innermost line of rdpkit it passed (not its message, which holds values)."""
    tb = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() != Path(__file__).resolve()]
    ours = [f for f in tb if "/rdpkit/" in f.filename or "/rdpkit_" in f.filename]
    frame = (ours or tb or [None])[-1]
    where = f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__} at {where}"


class Recorder:
    """Counts outcomes and writes the inputs behind findings to a folder."""

    def __init__(self, out: Path | None, keep: int) -> None:
        self.out, self.keep = out, keep
        self.saved: collections.Counter[str] = collections.Counter()
        self.examples: dict[str, str] = {}

    def save(self, target: str, index: int, kind: str, signature: str, data: bytes, text: str) -> None:
        key = f"{target}:{kind}:{signature}"
        self.examples.setdefault(key, text.strip().splitlines()[-1] if text.strip() else kind)
        self.saved[key] += 1
        if self.out is None or self.saved[key] > self.keep:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        stem = f"{target}-{kind}-{hashlib.sha1(signature.encode()).hexdigest()[:8]}-{index:07d}"
        (self.out / f"{stem}.bin").write_bytes(data)
        (self.out / f"{stem}.txt").write_text(f"target {target}, input {index}, {kind}: {signature}\n\n{text}\n")


def attempt(target: Target, data: bytes, timeout: float | None) -> tuple[str, str, str, float]:
    """Run one input: (outcome, signature, details, seconds); outcome is accepted, refused or a finding kind."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            target.run(data)
            outcome, signature, details = "accepted", "", ""
        except rdpkit.RdpkitError as exc:
            outcome, signature, details = "refused", type(exc).__name__, str(exc)
        except ContractBroken as exc:
            outcome, signature, details = "contract", str(exc).split(",")[0], traceback.format_exc()
        except Timeout:
            outcome, signature, details = "timeout", f"over {timeout} s", traceback.format_exc()
        except Exception as exc:  # noqa: BLE001 (what the fuzzer is looking for)
            outcome, signature, details = "exception", _signature(exc), traceback.format_exc()
        finally:
            if timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.perf_counter() - t0
    if caught and outcome in ("accepted", "refused"):
        w = caught[0]
        outcome, signature = "warning", f"{w.category.__name__} at {Path(w.filename).name}:{w.lineno}"
        details = "\n".join(f"{c.category.__name__}: {c.message}" for c in caught)
    return outcome, signature, details, seconds


def fuzz(targets: list[Target], inputs: int, seed: int, recorder: Recorder, *, slow: float = 1.0, timeout: float | None = 30.0,
         memory_report: float = 256.0, progress: Callable[[str, Stats], None] | None = None) -> dict[str, Stats]:
    """Feed `inputs` inputs to each target; returns what happened per target."""
    results = {}
    previous = signal.signal(signal.SIGALRM, _alarm) if timeout else None
    try:
        for target in targets:
            stats = Stats()
            rng = np.random.default_rng([seed, int.from_bytes(target.name.encode(), "big")])
            start = time.perf_counter()
            for index in range(inputs):
                data = target.draw(rng)
                peak = _peak_mib()
                outcome, signature, details, seconds = attempt(target, data, timeout)
                stats.inputs += 1
                stats.slowest = max(stats.slowest, seconds)
                if outcome == "accepted":
                    stats.accepted += 1
                elif outcome == "refused":
                    stats.refused[signature] += 1
                else:
                    stats.findings[f"{outcome}: {signature}"] += 1
                    recorder.save(target.name, index, outcome, signature, data, details)
                grown = _peak_mib() - peak
                if grown > memory_report:
                    stats.memory += 1
                    recorder.save(target.name, index, "memory", f"{grown:.0f} MiB", data, f"peak memory grew by {grown:.0f} MiB")
                if seconds > slow:
                    stats.slow += 1
                    recorder.save(target.name, index, "slow", f"{seconds:.1f} s", data, f"took {seconds:.2f} s ({outcome})")
                if progress is not None and (index + 1) % 10000 == 0:
                    progress(target.name, stats)
            target.cleanup()
            stats.seconds = time.perf_counter() - start
            results[target.name] = stats
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return results


def cap_memory(budget_mib: int) -> None:
    """Cap the address space at its size now plus `budget_mib`, so a runaway allocation is a MemoryError here."""
    with open("/proc/self/status") as f:
        size_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    limit = (size_kib * 1024) + budget_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def report(results: dict[str, Stats], recorder: Recorder, wall: float) -> str:
    lines = [f"{'target':<10} {'inputs':>8} {'accepted':>9} {'refused':>8} {'findings':>9} {'slow':>5} {'memory':>7} {'seconds':>8} {'slowest':>8}"]
    for name, s in results.items():
        lines.append(f"{name:<10} {s.inputs:>8} {s.accepted:>9} {sum(s.refused.values()):>8} {sum(s.findings.values()):>9} {s.slow:>5} {s.memory:>7} {s.seconds:>8.1f} {s.slowest:>8.3f}")
    lines.append(f"wall time {wall:.1f} s")
    for name, s in results.items():
        for finding, n in s.findings.most_common():
            example = next((v for k, v in recorder.examples.items() if k.startswith(f"{name}:") and k.endswith(finding.split(": ", 1)[1])), "")
            lines.append(f"  {name}: {n} × {finding}    e.g. {example[:160]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="folder for the inputs behind findings")
    parser.add_argument("--keep", type=int, default=5, help="inputs saved per distinct finding")
    parser.add_argument("--slow", type=float, default=1.0, help="report inputs that take longer (seconds)")
    parser.add_argument("--timeout", type=float, default=30.0, help="stop an input after this long (seconds; 0: never)")
    parser.add_argument("--memory", type=int, default=6144, help="address space allowed beyond the setup's (MiB; 0: no cap)")
    parser.add_argument("--memory-report", type=float, default=256.0, help="report inputs after which peak memory grew more (MiB)")
    parser.add_argument("--replay", type=Path, nargs="*", default=[], help="run these saved inputs instead of drawing new ones")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny inputs; and the machine is shared
    with tempfile.TemporaryDirectory(prefix="rdpkit-fuzz-") as tmp:
        targets = build_targets(args.targets, Path(tmp))
        if args.memory:
            cap_memory(args.memory)
        recorder = Recorder(args.out, args.keep)
        if args.replay:
            for target in targets:
                for path in args.replay:
                    outcome, signature, details, seconds = attempt(target, path.read_bytes(), args.timeout or None)
                    print(f"{target.name} {path.name}: {outcome} {signature} ({seconds:.3f} s)\n{details}")
            return 0
        t0 = time.perf_counter()
        results = fuzz(targets, args.inputs, args.seed, recorder, slow=args.slow, timeout=args.timeout or None,
                       memory_report=args.memory_report, progress=lambda name, s: print(f"  {name}: {s.inputs} inputs, {sum(s.findings.values())} findings", file=sys.stderr, flush=True))
        wall = time.perf_counter() - t0
    print(report(results, recorder, wall))
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "wall_seconds": round(wall, 1), "targets": {k: v.as_dict() for k, v in results.items()}}, indent=2))
    return 1 if any(s.findings for s in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
