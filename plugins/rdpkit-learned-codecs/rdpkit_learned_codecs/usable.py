"""The device to run on, checked before any work: one sentence for a missing GPU, never an error from inside torch."""

from __future__ import annotations

import torch

from rdpkit.validation import check_device, resolve_device


def usable_device(device: str | torch.device | None) -> str:
    """"auto" and None: a GPU when there is one, else the CPU; other names checked (InputError)."""
    return resolve_device(check_device(str(device) if isinstance(device, torch.device) else device))
