"""Integer probability tables: what the entropy coder codes with, stored with every model.

A model's probability distributions (one per channel of a factorized prior, one per entry of
a Gaussian conditional's scale table) are turned into integer frequencies once, in float64 on
the CPU, when the model is trained or converted, and stored beside its weights. Coding then
uses only these integers, so a bitstream decodes to the same symbols on every machine,
device and precision, whatever the floating-point arithmetic there.

Each table covers the integer values low, low + 1, ..., low + size − 2; its last symbol is the
escape, coded for values outside that range (whose distance is then coded bit by bit, see
coding.py). Frequencies are at least 1 and sum to 2**PRECISION, so every value can be coded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rdpkit.codecs.entropy import quantize_frequencies

#: Bits of the integer frequencies (they sum to 2**PRECISION), as in CompressAI.
PRECISION = 16
#: Probability mass left outside a table's range, to the escape symbol (CompressAI's tail mass).
TAIL_MASS = 1e-9
#: The most values one table covers (wider distributions code their far tails as escapes).
MAX_VALUES = 4095
#: Scale of the float64 probabilities before they are rounded to integer counts.
_COUNT_SCALE = 2.0**40


@dataclass(frozen=True)
class Tables:
    """Integer frequency tables, concatenated: table t is freqs[starts[t] : starts[t] + sizes[t]]."""

    freqs: np.ndarray  # int64
    starts: np.ndarray  # int64
    sizes: np.ndarray  # int64, ≥ 2: the values, then the escape
    lows: np.ndarray  # int64: the value symbol 0 of each table stands for

    def __len__(self) -> int:
        return int(self.sizes.size)

    def row(self, t: int) -> np.ndarray:
        return self.freqs[self.starts[t] : self.starts[t] + self.sizes[t]]

    def buffers(self) -> dict[str, torch.Tensor]:
        return {"table_freqs": torch.from_numpy(self.freqs.astype(np.int32)), "table_sizes": torch.from_numpy(self.sizes.astype(np.int32)),
                "table_lows": torch.from_numpy(self.lows.astype(np.int32))}

    @classmethod
    def from_buffers(cls, freqs: torch.Tensor, sizes: torch.Tensor, lows: torch.Tensor) -> Tables:
        f, s, lo = (t.detach().cpu().numpy().astype(np.int64) for t in (freqs, sizes, lows))
        starts = np.concatenate([[0], np.cumsum(s)[:-1]]).astype(np.int64) if s.size else np.zeros(0, np.int64)
        return cls(f, starts, s, lo)


def from_pmfs(pmfs: list[np.ndarray], lows: list[int]) -> Tables:
    """Tables from float64 probabilities of consecutive integers (one array per table); the rest of the mass goes to the escape."""
    rows = []
    for pmf in pmfs:
        p = np.clip(np.asarray(pmf, dtype=np.float64), 0, None)
        tail = max(1.0 - float(p.sum()), 0.0)
        counts = np.rint(np.append(p, tail) * _COUNT_SCALE).astype(np.int64)
        rows.append(quantize_frequencies(counts, PRECISION))
    sizes = np.array([r.size for r in rows], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return Tables(np.concatenate(rows).astype(np.int64), starts, sizes, np.asarray(lows, dtype=np.int64))


def distance(a: Tables, b: Tables) -> float:
    """The largest total-variation distance between corresponding tables (1.0 when they differ in number).

    Tables recomputed from the same weights on another machine may differ by a unit here and
    there (floating point); tables of another model differ by far more.
    """
    if len(a) != len(b):
        return 1.0
    worst = 0.0
    for t in range(len(a)):
        pa, pb = _as_dict(a, t), _as_dict(b, t)
        worst = max(worst, 0.5 * sum(abs(pa.get(v, 0.0) - pb.get(v, 0.0)) for v in pa.keys() | pb.keys()))
    return worst


def _as_dict(tables: Tables, t: int) -> dict[object, float]:
    row = tables.row(t) / float(1 << PRECISION)
    low = int(tables.lows[t])
    out: dict[object, float] = {low + i: float(p) for i, p in enumerate(row[:-1])}
    out["escape"] = float(row[-1])
    return out


_BUFFERS = ("table_freqs", "table_sizes", "table_lows")


def register_table_buffers(module: torch.nn.Module) -> None:
    """Empty table buffers on `module`: part of its state dict (and so of every file and fingerprint) once filled."""
    for name in _BUFFERS:
        module.register_buffer(name, torch.zeros(0, dtype=torch.int32))


def set_tables(module: torch.nn.Module, tables: Tables) -> None:
    for name, value in tables.buffers().items():
        setattr(module, name, value.to(getattr(module, name).device))


def stored_problem(module: torch.nn.Module, count: int) -> str | None:
    """What makes the tables stored on `module` unfit for `count` tables (one sentence's clause), or None when they fit
    or none are stored; checked on the buffers alone, before any table is built or compared."""
    freqs, sizes, lows = module.table_freqs, module.table_sizes, module.table_lows
    if not sizes.numel() and not freqs.numel() and not lows.numel():
        return None
    if not (sizes.shape == lows.shape == (count,) and freqs.ndim == 1):
        return f"its table buffers hold {tuple(sizes.shape)} sizes and {tuple(lows.shape)} offsets, but the architecture has {count} tables"
    if int(sizes.min()) < 2 or int(sizes.max()) > MAX_VALUES + 1 or freqs.numel() != int(sizes.long().sum()):
        return f"its table sizes are not {count} sizes from 2 to {MAX_VALUES + 1} that add up to its {freqs.numel()} frequencies"
    return None


def stored_tables(module: torch.nn.Module) -> Tables | None:
    """The tables stored on `module`, or None before they are computed."""
    sizes = module.table_sizes
    return Tables.from_buffers(module.table_freqs, sizes, module.table_lows) if sizes.numel() else None
