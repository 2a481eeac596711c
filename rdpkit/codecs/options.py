"""Checks of codec options, shared so that every codec words its refusals the same way."""

from __future__ import annotations

from ..errors import InputError


def check_int(value: int, low: int, high: int, name: str) -> int:
    """`value` if it is an integer in [low, high], else InputError naming the option `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} must be an integer from {low} to {high}, got {value!r}.")
    return value
