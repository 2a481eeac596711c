"""The zoo: every model the project trained and ships, keyed by (kind, quality, λ_p), with the sha256 each file must have.

The digests are written here when the files are trained (their records, next to them, say
how), so a file replaced along with its record is still refused. A factorized or hyperprior
file is a variable-rate model that codes every quality, so its key holds no quality; only a
hific model has a perception weight λ_p.
"""

from __future__ import annotations

from pathlib import Path

from rdpkit.errors import WeightsUnavailable

FOLDER = Path(__file__).parents[1] / "weights"
#: The held-out photographs (never trained on) split for the shipped hific models: every choice of perception weight,
#: steps, architecture and test threshold is made on SELECTION; TEST is looked at once, by the acceptance tests and
#: the README's figures. Astronaut selects because its flat background shows a decoder's grid most plainly; the two
#: textured photographs are the test.
SELECTION = ("astronaut",)
TEST = ("coffee", "china")
#: The perception weight of the shipped hific codec that `rdpkit.codec("hific")` loads (quality 1).
DEFAULT_HIFIC_LAM_P = 0.15
#: (kind, quality, λ_p, noise α) → (file name, sha256). Each hific quality is the shipped hyperprior's rate its pair
#: started from; α > 0 marks a stochastic decoder.
ZOO: dict[tuple[str, int | None, float | None, float | None], tuple[str, str]] = {
    ("hyperprior", None, None, None): ("hyperprior-small.safetensors", "d05c1310e6a30e59b0e0d0a8c932853c8642dc64d711481af8176bbfaee9bb63"),
    ("factorized", None, None, None): ("factorized-small.safetensors", "2919ffb08af6e603a918ef02e136522db6449deed2690e202442cc68659e77d5"),
    ("hific", 1, 0.0, 0.0): ("hific-q1-lamp0.safetensors", "7878366429427f005b6de088b0e87f8c14893b0aa83bc404a54c8fe209f6514e"),
    ("hific", 1, 0.15, 0.0): ("hific-q1-lamp0.15.safetensors", "4fb6b15ad73af14c0d258fa146b13be61d5bf8dfa6163384040f945eb4fe60b2"),
    ("hific", 3, 0.0, 0.0): ("hific-q3-lamp0.safetensors", "eb6e0de6f8602cd378fdcb0a5934c63cff7868318519d59388386982d0f20a8c"),
    ("hific", 3, 0.15, 0.0): ("hific-q3-lamp0.15.safetensors", "0537d36eaa17f435e548628f1741997a309b85bbe6226f61ca41ec9282a89326"),
    ("hific", 5, 0.0, 0.0): ("hific-q5-lamp0.safetensors", "d4b451afb387d68e3670c580557da94914f2fef4fdf64a6c3fbc67a65924ad4a"),
    ("hific", 5, 0.15, 0.0): ("hific-q5-lamp0.15.safetensors", "6bb464baeddec971125c5727ea4b75ac912067f79e16acf4641698b1204147dc"),
    ("hific", 1, 0.15, 0.5): ("hific-q1-lamp0.15-noise0.5.safetensors", "d925a7c95c23491eef0cb802d540b2304fcd972bd6f65e5f27baeb49565b53e7"),
}
#: (quality, λ_p) → (file name, sha256) of the shipped deterministic hific models: the pairs.
SHIPPED_HIFIC = {(q, lam_p): entry for (kind, q, lam_p, noise), entry in ZOO.items() if kind == "hific" and q is not None and lam_p is not None and not noise}
#: (quality, λ_p, α) → (file name, sha256) of the shipped stochastic hific models, each beside the pair of its quality.
STOCHASTIC_HIFIC = {(q, lam_p, noise): entry for (kind, q, lam_p, noise), entry in ZOO.items() if kind == "hific" and q is not None and lam_p is not None and noise}


def shipped(kind: str, quality: int | None = None, lam_p: float | None = None, noise: float = 0.0) -> tuple[Path, str]:
    """The path and sha256 of the shipped `kind` model at `quality` (default: the lowest shipped), perception weight
    `lam_p` (default: the λ_p > 0 shipped at that quality) and decoder noise `noise`.

    A variable-rate model (factorized, hyperprior) is one file for every quality and no λ_p.
    """
    if (kind, None, None, None) in ZOO:
        name, digest = ZOO[kind, None, None, None]
        return FOLDER / name, digest
    choices = sorted((q, lp, a) for k, q, lp, a in ZOO if k == kind)
    q = min((q_ for q_, _, _ in choices), default=1) if quality is None else quality
    if lam_p is None:
        lam_p = max((lp for q_, lp, a in choices if q_ == q and a == noise), default=DEFAULT_HIFIC_LAM_P)
    key = (kind, q, float(lam_p), float(noise))
    if key not in ZOO:
        listed = "; ".join(f"quality={q_} with lam_p={lp:g}" + (f", noise={a:g}" if a else "") for q_, lp, a in choices) or "none"
        raise WeightsUnavailable(f"no {kind} model is shipped for quality={q}, lam_p={lam_p:g}" + (f" and noise={noise:g}" if noise else "")
                                 + f" (shipped: {listed}); train one with `rdpkit learned-codecs train --kind {kind} --start shipped`, or pick a shipped one.")
    name, digest = ZOO[key]
    return FOLDER / name, digest


def shipped_hific(quality: int | None, lam_p: float | None, noise: float = 0.0) -> tuple[Path, str]:
    """The shipped hific model at `quality` (default: the lowest shipped) trained with perception weight `lam_p` and decoder noise `noise`."""
    return shipped("hific", quality, lam_p, noise)
