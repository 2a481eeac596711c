"""Reading weights files safely: the one set of checks every plugin's loader uses.

- `sha256` of a file, streamed;
- `check_named_digest`: the caches name files by their digest (a Hugging Face blob is its
  full sha256; torch hub puts a prefix in the name, ``resnet18-5c106cde.pth``) but check it
  only while downloading: a file whose content disagrees with its name is refused here;
- `load_tensors`: ``torch.load(weights_only=True)`` (tensors and plain containers, never
  code), with one sentence for a file that holds more, or cannot be read;
- `check_finite`: a NaN or infinite weight makes every value NaN, so it is refused;
- `verify_file`: a model file a plugin trained, checked against the sha256 in the record
  beside it (`record_path`) and any digest the caller knows, before it is read;
- `save_tensors`: the one writer of safetensors model files, whole or not at all, with the
  permissions of any file the user writes (safetensors' own writer leaves them readable by
  the owner only);
- `tensors_only`: for libraries that call ``torch.load`` themselves with
  ``weights_only=False`` (pyiqa, torchvision, torch-fidelity), a block in which every
  ``torch.load`` goes through `load_tensors`.

Messages never repeat torch's advice to load with ``weights_only=False``: that is the path
that runs a file's code.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from .errors import WeightsUnavailable

# At least 8 hex digits after a dash: shorter runs are ordinary words ("model-add.pth"), not hashes.
_NAMED = re.compile(r"-([a-f0-9]{8,64})\.")
_LOCK = threading.Lock()


def sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def named_digest(path: str | os.PathLike[str]) -> str | None:
    """The sha256 (or its prefix) a cache names the file by, if it names it by one."""
    blob = os.path.basename(os.path.realpath(path))
    if re.fullmatch(r"[0-9a-f]{64}", blob):
        return blob
    found = _NAMED.search(os.path.basename(os.fspath(path)))
    return found.group(1) if found else None


def check_named_digest(path: str | os.PathLike[str], what: str) -> None:
    """Refuse `path` when its content does not have the digest its name (or its cache blob) carries."""
    want = named_digest(path)
    if want is None:
        return
    digest = sha256(path)
    if not digest.startswith(want):
        raise WeightsUnavailable(
            f"{what} cannot use {os.fspath(path)!r}: its sha256 starts {digest[:12]}, not {want[:12]} as its name says, "
            "so it is damaged or was replaced; delete it and fetch it again.")


def load_tensors(f: Any, what: str, **kwargs: Any) -> Any:
    """``torch.load(f, weights_only=True)``: tensors and plain containers only, one sentence for anything else."""
    path = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", None)
    name = repr(path) if isinstance(path, str) else "a weights file"
    if isinstance(f, (str, os.PathLike)) and isinstance(path, str) and not os.path.isfile(path):
        if path == "" or os.path.lexists(path):  # '' would be read as the folder '.', and a FIFO would block the read
            raise WeightsUnavailable(f"{what} needs {name}, which is {'an empty path' if path == '' else _kind(Path(path))}, not a weights file; give the path of one.")
    elif isinstance(path, str) and os.path.isfile(path):
        check_named_digest(path, what)
    kwargs["weights_only"] = True
    try:
        return _REAL_LOAD(f, **kwargs)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # torch refused a global the file names: it holds more than tensors
            raise WeightsUnavailable(f"{what} needs {name}, which holds Python objects besides tensors; rdpkit does not unpickle those, "
                                     "because that can run code from the file: use a copy saved as plain tensors.") from None
        raise WeightsUnavailable(f"{what} cannot read {name} (it is not a torch file); it is damaged or belongs to another program: "
                                 "delete it and fetch it again.") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise WeightsUnavailable(f"{what} cannot read {name} ({type(exc).__name__}); it is damaged or belongs to another model: "
                                 "delete it and fetch it again.") from None


def check_finite(what: str, weights: torch.nn.Module | Mapping[str, torch.Tensor]) -> None:
    """Refuse a network (or a table of tensors) holding a NaN or infinite value."""
    items = [*weights.named_parameters(), *weights.named_buffers()] if isinstance(weights, torch.nn.Module) else list(weights.items())
    for key, tensor in items:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsUnavailable(f"{what} has non-finite weights (NaN or Inf) in {key!r}, so every value would be NaN; "
                                     "delete its weights file and fetch it again.")


_REAL_LOAD = torch.load


@contextmanager
def tensors_only(what: str) -> Iterator[None]:
    """Within the block, every ``torch.load`` (a library's own included) reads tensors only and checks named digests.

    It replaces ``torch.load`` process-wide for the block's duration, under a lock, so loads
    in other threads meanwhile get the same safety.
    """
    def load(f: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("weights_only", None)
        if args:  # torch.load(f, map_location, pickle_module, ...): keep the map_location
            kwargs.setdefault("map_location", args[0])
        return load_tensors(f, what, **{k: v for k, v in kwargs.items() if k in ("map_location", "mmap")})

    with _LOCK:
        torch.load = load  # type: ignore[assignment]
        try:
            yield
        finally:
            torch.load = _REAL_LOAD


# -- model files with a record ------------------------------------------------------------------
# A model a plugin trains is written with a JSON record beside it (how it was made, and the file's
# sha256); the record's digest, and any the caller knows (a shipped file's), are checked before
# the file is read.

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def record_path(path: str | os.PathLike[str]) -> Path:
    """Where the JSON record of the model file `path` lies: beside it, with the suffix .json."""
    return Path(path).with_suffix(".json")


def save_tensors(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> Path:
    """Write `tensors` and `metadata` to the safetensors file `path`: its folder made, a temporary file beside it renamed
    onto it once whole, so a failed write leaves the previous file; the mode follows the umask, as for any file written."""
    from safetensors.torch import save

    from .files import replacing

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = save(dict(tensors), metadata=dict(metadata))
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return path


def write_record(path: str | os.PathLike[str], record: Mapping[str, Any]) -> dict[str, Any]:
    """Write `record` beside the model file `path` (`record_path`) with the file's name, sha256 and size; returns what was written."""
    path = Path(path)
    written = {**record, "checkpoint": path.name, DIGEST_KEY: sha256(path), "bytes": path.stat().st_size}
    record_path(path).write_text(json.dumps(written, indent=2) + "\n")
    return written


def check_sha256(value: Any, what: str) -> str:
    """`value` lower-cased if it is a sha256 (64 hexadecimal digits); anything else, empty included, is refused (InputError), never taken as 'no check'."""
    if not (isinstance(value, str) and _SHA256.fullmatch(value.strip())):
        from .errors import InputError

        raise InputError(f"{what} must be a sha256, 64 hexadecimal digits, got {str(value)[:80]!r}; leave it out to check against the record next to the file.")
    return value.strip().lower()


def recorded_sha256(path: str | os.PathLike[str]) -> str | None:
    """The sha256 in the record beside `path`, or None when there is no record; a record that gives none, or that exists
    but cannot be read (a folder, a FIFO, a dangling link, a file without read permission), is refused."""
    record = record_path(path)
    if not os.path.lexists(record):
        return None
    fix = "restore the record written with it, or delete the record to load the file unverified"
    if not record.is_file():
        raise WeightsUnavailable(f"the record {str(record)!r} exists but is {_kind(record)}, not a readable file, so {Path(path).name!r} cannot be verified; {fix}.")
    try:
        digest = json.loads(record.read_text())[DIGEST_KEY]
    except OSError as exc:
        raise WeightsUnavailable(f"the record {str(record)!r} cannot be read ({exc.strerror}), so {Path(path).name!r} cannot be verified; {fix}.") from None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise WeightsUnavailable(f"the record {str(record)!r} is not valid JSON with a sha256 field, so {Path(path).name!r} cannot be verified; {fix}.") from None
    if not (isinstance(digest, str) and _SHA256.fullmatch(digest.strip())):
        raise WeightsUnavailable(f"the record {str(record)!r} gives sha256 {str(digest)[:80]!r}, not 64 hexadecimal digits, so {Path(path).name!r} cannot be verified; {fix}.")
    return digest.strip().lower()


def _kind(path: Path) -> str:
    """What a path that is not a regular file is, in words: a folder, a FIFO, a socket, a device, a dangling link."""
    import stat

    if path.is_dir():
        return "a folder"
    try:
        mode = path.stat().st_mode
    except OSError:
        return "a link to nothing" if path.is_symlink() else "missing"
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")


def regular_file(path: str | os.PathLike[str], what: str, *, fix: str, written_by: str, kind: str = "file") -> Path:
    """`path` once it is known to name an existing regular file; else one sentence (WeightsUnavailable) that says what it is:
    an empty path, missing (ended by `fix`), a folder, a FIFO, a socket, a device (each asking for the `kind` of file
    `written_by` writes)."""
    want = f"give the path of the {kind} written by {written_by}"
    if os.fspath(path) == "":
        raise WeightsUnavailable(f"{what} path is empty; {want}.")
    path = Path(path)
    where = repr(str(path))
    if path.is_file():
        return path
    found = _kind(path)
    if found == "missing":
        raise WeightsUnavailable(f"{what} {where} does not exist; {fix}, or give the right path.")
    if found == "a folder":
        raise WeightsUnavailable(f"{what} {where} is a folder, not a file; {want}.")
    raise WeightsUnavailable(f"{what} {where} is {found}, not a regular file; {want}.")


def verify_file(path: str | os.PathLike[str], what: str, *, fix: str, written_by: str, expected_sha256: str | None = None) -> Path:
    """`path`, once it is known to be a file whose sha256 is the one its record gives (when it has one) and `expected_sha256`
    (when given); else one sentence (WeightsUnavailable). `what` names the file (``the PIM checkpoint``), `written_by` what
    writes such files (said when a folder is given), `fix` ends the other refusals."""
    path = regular_file(path, what, fix=fix, written_by=written_by, kind=".safetensors file")
    where = repr(str(path))
    wanted = [] if expected_sha256 is None else [(check_sha256(expected_sha256, "the expected sha256"), "by the sha256 given")]
    recorded = recorded_sha256(path)
    if recorded is not None:
        wanted.append((recorded, f"by its record {record_path(path).name!r}"))
    if wanted:
        digest = sha256(path)
        for want, source in wanted:
            if digest != want:
                raise WeightsUnavailable(f"{what} {where} has sha256 {digest[:12]}… but {want[:12]}… was expected {source}, so it is damaged or was replaced; {fix}.")
    return path


# -- training checkpoints ----------------------------------------------------------------------

#: The checkpoint key holding the sha256 of the rest of the checkpoint.
DIGEST_KEY = "sha256"


def _feed(h: Any, value: Any) -> None:
    """Hash nested dicts, lists, tensors, numbers and strings in an order that does not depend on insertion."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


def content_digest(value: Any) -> str:
    """The sha256 of a nested checkpoint (tensors by their bytes, dtype and shape; dict keys in sorted order)."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def first_non_finite(value: Any, prefix: str = "") -> str | None:
    """The key path of the first floating-point tensor holding NaN or Inf in nested dicts and lists, or None."""
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        where = f"{prefix}{key}"
        if isinstance(item, torch.Tensor):
            if item.is_floating_point() and not bool(torch.isfinite(item).all()):
                return where
        else:
            found = first_non_finite(item, f"{where}.")
            if found is not None:
                return found
    return None


#: What a training run saves and restores: networks and optimisers (state dicts) and random generators (their state).
Stateful = torch.nn.Module | torch.optim.Optimizer | torch.Generator | None


def run_state(parts: Mapping[str, Stateful]) -> dict[str, Any]:
    """The checkpoint entries of a run's `parts` by name; a part the run does not have (None, a critic at λ = 0) is {}."""
    return {name: {} if part is None else part.get_state() if isinstance(part, torch.Generator) else part.state_dict() for name, part in parts.items()}


def restore_run(saved: Mapping[str, Any], parts: Mapping[str, Stateful]) -> None:
    """Load the entries `run_state` wrote back into `parts` (those that are None are skipped)."""
    for name, part in parts.items():
        if isinstance(part, torch.Generator):
            part.set_state(saved[name])
        elif part is not None:
            part.load_state_dict(saved[name])


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Mapping[str, Any]) -> None:
    """Write a training checkpoint with its own sha256, atomically (a run killed while writing leaves the previous one)."""
    from pathlib import Path

    from .errors import InputError

    path = Path(path)
    if path.is_dir():
        raise InputError(f"checkpoint {str(path)!r} is a folder; pass the path of a file inside it, such as {str(path / 'run.pt')!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({**checkpoint, DIGEST_KEY: content_digest(dict(checkpoint))}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str], *, fmt: str, owner: str, fix: str, require_digest: bool = True) -> dict[str, Any]:
    """A training checkpoint written by `save_checkpoint` with ``format == fmt``: tensors only, its digest checked, finite.

    `owner` names what wrote it (``gan-codec``); `fix` ends every refusal (what the user can do).
    Without `require_digest`, checkpoints of an older format that carried no digest are accepted.
    """
    from .errors import InputError

    where = repr(os.fspath(path))
    try:
        checkpoint = _REAL_LOAD(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        what = "holds Python objects besides tensors and numbers, which are not unpickled because that can run code from the file" if "global" in str(exc).lower() else "is not a torch file"
        raise InputError(f"checkpoint {where} {what}; it is not a {owner} checkpoint, so {fix}.") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise InputError(f"checkpoint {where} is damaged or not a {owner} checkpoint (torch cannot read it: {type(exc).__name__}); {fix}.") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != fmt:
        raise InputError(f"checkpoint {where} is damaged or not a {owner} checkpoint (it has no {fmt!r} format field); {fix}.")
    stored = checkpoint.pop(DIGEST_KEY, None)
    if (stored is not None or require_digest) and stored != content_digest(checkpoint):
        raise InputError(f"checkpoint {where} does not match the sha256 stored in it, so it was damaged after it was written; {fix}.")
    bad = first_non_finite(checkpoint)
    if bad is not None:
        raise InputError(f"checkpoint {where} holds non-finite values (NaN or Inf) in {bad!r}, so training cannot resume from it; {fix}.")
    return checkpoint



def check_resumable(saved: Mapping[str, Any], path: str | os.PathLike[str], expected: Mapping[str, Any], steps: int) -> None:
    """Refuse to resume from checkpoint `saved` (read from `path`) unless every entry of `expected` matches it and it
    has trained at most `steps` steps."""
    from .errors import InputError

    where = repr(os.fspath(path))
    for key, value in expected.items():
        if saved.get(key) != value:
            raise InputError(f"checkpoint {where} belongs to another run ({key} {saved.get(key)!r}, this run {value!r}); "
                             "pass resume=False to start afresh, or another checkpoint path.")
    done = int(saved["step"])
    if done > steps:
        raise InputError(f"checkpoint {where} has already trained {done} steps, more than steps={steps}; ask for at least {done} steps, "
                         "or pass resume=False to start afresh.")
