"""Tiny trained codecs shared by the tests: a few steps on small crops, enough to code (the shipped models are tested in test_shipped.py)."""

from __future__ import annotations

import pytest
import torch
from rdpkit_learned_codecs.codecs.transform import FactorizedCodec, HyperpriorCodec

TINY = {"channels": 8, "latent_channels": 12}
TINY_FIT = {"steps": 3, "batch_size": 2, "crop": 64, "progress": False, "device": "cpu"}


def tiny(kind: str, **options) -> FactorizedCodec | HyperpriorCodec:
    cls = FactorizedCodec if kind == "factorized" else HyperpriorCodec
    return cls(**{**TINY, **options}).fit("builtin:training", **TINY_FIT)


@pytest.fixture(scope="session")
def tiny_codecs() -> dict[str, FactorizedCodec | HyperpriorCodec]:
    torch.set_num_threads(1)
    return {
        "factorized": tiny("factorized"),
        "hyperprior": tiny("hyperprior", lam=[0.002, 0.02]),
        "mean-scale": tiny("hyperprior", mean=True),
    }


@pytest.fixture
def photo() -> torch.Tensor:
    from rdpkit.data import load_image

    return load_image("builtin:coffee", size=(72, 100))
