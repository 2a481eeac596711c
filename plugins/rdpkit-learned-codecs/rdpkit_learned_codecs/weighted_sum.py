"""The distortion ``weighted-sum``: Σ w_i·Δ_i(x, x̂) over registered distortions, such as HiFiC's MSE + LPIPS.

It is registered (rather than kept private to the hific codec's training loop) so that every
loss the codec can be trained with is a component the recovery test and `rdpkit audit` can
run: ``rdpkit audit --distortion 'weighted-sum,terms=[["mse", 1.0], ["pim", 0.01]]'``.

`terms` is a list of ``[component, weight]`` pairs (a component is written as everywhere in
rdpkit, ``"lpips-alex,pretrained=false"``); the registry that creates the sum creates its terms.
Every term must be a registered differentiable distortion, weights positive and finite. Each term keeps its own contract (Δ(x, x) = 0, Δ ≥ 0),
so the sum does too; it needs images as large as its largest term does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rdpkit.errors import InputError
from rdpkit.interfaces import Distortion
from rdpkit.options import Component
from rdpkit.registry import active_registry

NAME = "weighted-sum"
EXAMPLE = '[["mse", 1.0], ["lpips-alex,pretrained=false", 0.1]]'


def parse_terms(terms: Any) -> tuple[tuple[Component, float], ...]:
    """``[[component, weight], ...]`` checked and parsed (the components are not created here)."""
    ok = isinstance(terms, (list, tuple)) and len(terms) > 0 and all(
        isinstance(t, (list, tuple)) and len(t) == 2 and isinstance(t[0], str) for t in terms)
    if not ok:
        raise InputError(f"terms must be a non-empty list of [distortion, weight] pairs, e.g. {EXAMPLE}, got {terms!r}.")
    out = []
    for text, weight in terms:
        c = Component.parse(text, what="distortion")
        if c.name.rpartition(":")[2] == NAME:
            raise InputError(f"a {NAME} cannot hold another {NAME} ({text!r}); list its terms directly.")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise InputError(f"the weight of {text!r} must be a positive number, got {weight!r}.")
        out.append((c, float(weight)))
    return tuple(out)


def check_trainable(c: Component, registry: Any) -> None:
    """Refuse a distortion that is not registered or not differentiable: nothing else can train a codec."""
    info = registry.info("distortion", c.name)
    if not info.differentiable:
        raise InputError(f"distortion {str(c)!r} is not differentiable, so it cannot train a codec; choose a differentiable one (`rdpkit list distortion` says which are).")


class WeightedSum(Distortion):
    """Σ w_i·Δ_i(x, x̂); see the module docstring."""

    def __init__(self, terms: Sequence[Sequence[str | float]] = (("mse", 1.0),)) -> None:
        super().__init__()
        registry = active_registry()  # the registry creating this sum creates its terms
        self.terms = parse_terms(terms)
        for c, _ in self.terms:
            check_trainable(c, registry)
        self.parts = nn.ModuleList([c.create("distortion", registry) for c, _ in self.terms])
        self.weights = [w for _, w in self.terms]
        self.min_size = max(p.min_size for p in self.parts)

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return sum(w * part(x, x_hat) for w, part in zip(self.weights, self.parts))  # type: ignore[return-value]
