"""The models the project trained and ships, with the sha256 each must have.

The digests are written here when the files are trained (their records, next to them, say
how), so a file replaced along with its record is still refused.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent / "weights"
#: kind → (file name, sha256).
SHIPPED = {
    "hyperprior": ("hyperprior-small.safetensors", ""),
    "factorized": ("factorized-small.safetensors", ""),
}


def shipped(kind: str) -> tuple[Path, str]:
    name, digest = SHIPPED[kind]
    return FOLDER / name, digest
