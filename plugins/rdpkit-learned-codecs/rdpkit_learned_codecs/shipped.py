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

#: The perception weight of the shipped hific codec that `rdpkit.codec("hific")` loads.
DEFAULT_HIFIC_LAM_P = 0.15
#: (quality, λ_p) → (file name, sha256) of the shipped hific pair(s): each quality is the shipped hyperprior's rate they started from.
SHIPPED_HIFIC: dict[tuple[int, float], tuple[str, str]] = {
    (1, 0.0): ("hific-q1-lamp0.safetensors", "d8aa473b8dc811c00a72bd36fe99f530bba10952b1c2e2979709d10fd2f29a67"),
    (1, 0.15): ("hific-q1-lamp0.15.safetensors", "3aa4eb076ad89b5175dd9e9fa5d228ab900eba19256ccad675a5a984b9adcf47"),
    (3, 0.0): ("hific-q3-lamp0.safetensors", "454c8181d26cada6df59acfb422695a022e507b7a545810613c1cee9f1c3d0c6"),
    (3, 0.15): ("hific-q3-lamp0.15.safetensors", "f3e2db9106bbea40368e2ccd0bbdef61310cd2146293790e1461cb78af6a2915"),
    (5, 0.0): ("hific-q5-lamp0.safetensors", "ecd383dcb2fcd445c89de403da24a900638b911db2f65e1631fe58150b2d9276"),
    (5, 0.15): ("hific-q5-lamp0.15.safetensors", "2ff5a8cb7690ee070d448a712986e333805126307b98ece5bf9a0d162ff2248b"),
}


def shipped_hific(quality: int | None, lam_p: float) -> tuple[Path, str]:
    """The shipped hific model at `quality` (default: the lowest shipped) trained with perception weight `lam_p`."""
    from rdpkit.errors import WeightsUnavailable

    choices = sorted(SHIPPED_HIFIC)
    q = min((q for q, _ in choices), default=1) if quality is None else quality
    key = (q, float(lam_p))
    if key not in SHIPPED_HIFIC:
        listed = "; ".join(f"quality={q_} with lam_p={lp:g}" for q_, lp in choices) or "none"
        raise WeightsUnavailable(f"no hific model is shipped for quality={q} and lam_p={lam_p:g} (shipped: {listed}); train one with "
                                 "`rdpkit learned-codecs train --kind hific --start shipped`, or pick a shipped one.")
    name, digest = SHIPPED_HIFIC[key]
    return FOLDER / name, digest
