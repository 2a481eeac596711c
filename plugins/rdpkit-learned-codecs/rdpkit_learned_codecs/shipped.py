"""The models the project trained and ships, with the sha256 each must have.

The digests are written here when the files are trained (their records, next to them, say
how), so a file replaced along with its record is still refused.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent / "weights"
#: kind → (file name, sha256).
SHIPPED = {
    "hyperprior": ("hyperprior-small.safetensors", "d05c1310e6a30e59b0e0d0a8c932853c8642dc64d711481af8176bbfaee9bb63"),
    "factorized": ("factorized-small.safetensors", "2919ffb08af6e603a918ef02e136522db6449deed2690e202442cc68659e77d5"),
}


def shipped(kind: str) -> tuple[Path, str]:
    name, digest = SHIPPED[kind]
    return FOLDER / name, digest
