"""The rate-distortion-perception behaviour on the 8×8 digits (Blau & Michaeli 2019, §4.1, Fig. 6).

Two codecs at the same rate, 2 bits per digit (dim 2, L 2): λ = 0 (Shannon's distortion-only
codec) and λ > 0. On held-out digits, λ > 0 must lower a freshly trained held-out critic's W1
estimate and raise the MSE; its decoder must use the noise (many distinct outputs for one code
word), while the λ = 0 decoder gives at most 4 distinct outputs, one per code word.

Small models and short runs keep this within a minute or two on a CPU; the margins below were
set from runs over several seeds, at about a third of the gaps observed.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from rdpkit_gan_codec.codec import GanCodec

from rdpkit.critics.wgan import held_out_w1
from rdpkit.data import digits, split

RATE = {"dim": 2, "levels": 2, "noise": 0.5}
#: Outputs closer than this (L2 over the 64 pixels in [0, 1]) count as one. Two different real
#: digits are typically about 2.5 apart, the λ = 0 decoder's four code-word outputs about 1.3,
#: and its outputs move by at most about 0.45 with the noise (observed over seeds).
SAME = 0.55


@pytest.fixture(scope="module")
def digits_split() -> tuple[torch.Tensor, torch.Tensor]:
    train, test = split(digits(), [0.8, 0.2], seed=0)
    return train, test


@pytest.fixture(scope="module")
def codecs(digits_split) -> dict[str, GanCodec]:
    train, _ = digits_split
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: threads only add overhead
    try:
        shannon = GanCodec(lam=0.0, **RATE).fit(train, steps=2000, seed=0, progress=False)
        perceptual = GanCodec(lam=0.1, critic_steps=5, **RATE).fit(train, steps=1000, seed=0, progress=False)
    finally:
        torch.set_num_threads(before)
    return {"shannon": shannon, "perceptual": perceptual}


def noise_free(codec: GanCodec, words: torch.Tensor) -> torch.Tensor:
    """g(f̂) without noise, one flattened output per code word."""
    model = codec.model
    with torch.no_grad():
        return model.decoder(model.quantizer.dequantize(words)).flatten(1)


def distinct(outputs: torch.Tensor, start: torch.Tensor) -> int:
    """Size of a greedy cover: the `start` outputs, plus each output farther than SAME from all kept before it."""
    kept = list(start)
    for o in outputs:
        if all(float((o - k).norm()) > SAME for k in kept):
            kept.append(o)
    return len(kept)


def test_perception_weight_lowers_w1_and_raises_mse(codecs, digits_split):
    _, test = digits_split
    results = {}
    for name, codec in codecs.items():
        bits = codec.encode(test)
        assert codec.rate(bits)["payload_bits_per_image"] <= 2 + 64 / len(test)
        x_hat = codec.decode(bits, seed=0)
        w1 = held_out_w1(test, x_hat, steps=400, hidden=128, seed=0)
        results[name] = (w1, float((x_hat - test).pow(2).mean()))
    (w_s, mse_s), (w_p, mse_p) = results["shannon"], results["perceptual"]
    # Observed over seeds: W1 about 1.6 (λ = 0) against 1.2-1.25 (λ > 0); MSE 0.059 against 0.08-0.10.
    assert w_p.value < w_s.value - max(0.12, 3 * (w_p.stderr**2 + w_s.stderr**2) ** 0.5), (w_s, w_p)
    assert mse_p > 1.15 * mse_s, (mse_s, mse_p)


def test_only_the_perceptual_decoder_uses_the_noise(codecs, digits_split):
    draws = 32
    words = torch.tensor(list(itertools.product(range(2), repeat=2)))
    shannon = codecs["shannon"]
    outputs = torch.cat([shannon.decode_indices(w.repeat(draws, 1), seed=1).flatten(1) for w in words])
    assert distinct(outputs, noise_free(shannon, words)) == 4
    # One code word, the one most test digits get: its draws are many different images.
    perceptual = codecs["perceptual"]
    used, counts = perceptual.indices(digits_split[1]).unique(dim=0, return_counts=True)
    common = used[counts.argmax()]
    outputs = perceptual.decode_indices(common.repeat(draws, 1), seed=1).flatten(1)
    assert distinct(outputs, noise_free(perceptual, common[None])) >= 6
