"""Shared fixtures of the core's tests."""

from __future__ import annotations

import pytest
import torch

from rdpkit.data import load_image


@pytest.fixture(scope="session")
def astronaut64() -> torch.Tensor:
    return load_image("builtin:astronaut", size=64)

