"""A model rebuilt from a file's state: table buffers sized as the file gives them, checked against the architecture, tables verified against the weights."""

from __future__ import annotations

from collections.abc import Callable

import torch

from rdpkit.errors import InputError

from ..entropy.tables import distance, set_tables, stored_tables
from ..networks.codec_model import CodecModel

#: Tables recomputed from a file's weights may differ from the stored ones by floating-point noise, never by more.
TABLE_TOLERANCE = 0.01
#: Buffers whose size depends on the tables; the scale table is not one: the architecture fixes it (gaussian.SCALE_LEVELS).
TABLE_BUFFERS = ("table_freqs", "table_sizes", "table_lows")


def restore(model: CodecModel | Callable[[], CodecModel], state: dict[str, torch.Tensor], source: str, *, check_tables: bool = True,
            again: str = "save it again") -> CodecModel:
    """`model` (freshly built for the state's configuration, or what builds it) holding `state`, in eval mode, with its integer tables.

    Given what builds it, the model is built only once the state holds every weight it has, in its
    shape (`_built`): a configuration cannot announce a model larger than its file.

    Tables absent from the state (CompressAI's files, or one written before they were computed)
    are computed; present ones are checked against the weights unless `check_tables` is false
    (then they are recomputed). Every buffer's shape is checked against the architecture before
    any table is built, so a file cannot make the tables cost more than the architecture's.
    A refusal names `source` and ends with `again`.
    """
    if not isinstance(model, torch.nn.Module):
        model = _built(model, state, source, again)
    expected = model.state_dict()
    state = {**{k: v for k, v in expected.items() if k.rpartition(".")[2] in TABLE_BUFFERS}, **state}
    for name, value in state.items():
        module, _, attr = name.rpartition(".")
        if attr in TABLE_BUFFERS and name in expected:  # an unknown name is load_state_dict's to refuse
            setattr(model.get_submodule(module), attr, torch.zeros_like(value))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc).splitlines()[0])
        raise InputError(f"{source!r} does not hold the weights its configuration describes ({first.rstrip('.')}); {again}.") from None
    model.eval()
    for module in model.entropy_modules():
        problem = module.table_problem()
        if problem is not None:
            raise InputError(f"{source!r} does not hold the tables its configuration describes ({problem}); {again}.")
    for module in model.entropy_modules():
        fresh = module.tables()
        stored = stored_tables(module)
        if stored is None or not check_tables:
            set_tables(module, fresh)
        elif distance(stored, fresh) > TABLE_TOLERANCE:
            raise InputError(f"the probability tables stored in {source!r} do not match its weights (they differ by {distance(stored, fresh):.2g} in total variation); it was damaged or assembled from two models, so train or save it again.")
    return model


def _built(build: Callable[[], CodecModel], state: dict[str, torch.Tensor], source: str, again: str) -> CodecModel:
    """`build()`, once `state` is known to hold each of its weights in its shape: checked on the meta device, which allocates nothing."""
    with torch.device("meta"):
        shapes = {name: value.shape for name, value in build().state_dict().items() if name.rpartition(".")[2] not in TABLE_BUFFERS}
    for name, shape in shapes.items():
        held = state.get(name)
        if held is None or held.shape != shape:
            found = "lacks it" if held is None else f"holds {tuple(held.shape)}"
            raise InputError(f"{source!r} does not hold the weights its configuration describes ({name} has shape {tuple(shape)}, the file {found}); {again}.")
    return build()
