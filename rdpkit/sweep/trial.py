"""One trial of a sweep: fit (if learnable) and run a codec, decode held-out data, measure it.

Everything a trial needs is in its configuration (a JSON-serialisable dict, see
`SweepConfig.trials`), so it runs the same in any process: a local pool worker, a Ray task,
or the caller's own process. It is deterministic under the configuration's seed at a given
number of torch threads.

Measured, on the held-out test split:

- rate from the real bytes of the test split's bitstream (``Bitstream.to_bytes()``): bits per
  image and bits per pixel, container included, and the payload alone;
- each distortion's mean over test images with its standard error;
- the perception index: a fresh critic trained on held-out real images (the *reference*
  split, never seen by the codec) against the decoded outputs, as in Blau & Michaeli
  (ICML 2019, footnote 7); and every other divergence, each with its standard error.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import RdpkitError
from ..registry import Registry, get_registry
from ..store import software_versions

#: The store's `kind` for sweep trials.
KIND = "sweep"


@dataclass
class Outcome:
    """What a trial hands back to the process that owns the store."""

    result: dict[str, Any] | None = None
    artifacts: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None


@functools.lru_cache(maxsize=4)
def _dataset(data_json: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from ..data import digits, folder_files, load_images, split

    data = json.loads(data_json)
    if data["source"] == "digits":
        x = digits()
    elif data["source"].startswith("builtin:"):
        names = data["source"].split(":", 1)[1].split(",")
        x = load_images([f"builtin:{n}" for n in names], size=data["size"], gray=data["gray"])
    else:
        x = load_images(folder_files(data["source"]), size=data["size"], gray=data["gray"])
    if data["limit"]:
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(data["split_seed"]))[: data["limit"]]]
    train, reference, test = split(x, data["split"], seed=data["split_seed"])
    return train, reference, test


def dataset(data: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (codec training, critic reference, test) splits a trial's data configuration names."""
    return _dataset(json.dumps(data, sort_keys=True))


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def _mean_stderr(values: torch.Tensor) -> dict[str, float]:
    v = values.detach().double().cpu()
    n = v.numel()
    return {"mean": float(v.mean()), "stderr": float(v.std(unbiased=True) / n**0.5) if n > 1 else float("nan"), "n": n}


def _fit(codec: Any, train: torch.Tensor, fit: dict[str, Any], seed: int, device: str) -> None:
    """Train a learnable codec, giving it the seed and device when its fit() takes them."""
    accepted = inspect.signature(codec.fit).parameters
    extra = {k: v for k, v in (("seed", seed), ("device", device), ("progress", False)) if k in accepted and k not in fit}
    codec.fit(train, **fit, **extra)


def _divergence(registry: Registry, name: str, options: dict[str, Any], seed: int) -> Any:
    """A fresh divergence estimator, seeded with the trial's seed unless its options fix one."""
    _seed(seed)
    div = registry.create("divergence", name, **options)
    if "seed" not in options and "seed" in inspect.signature(type(div)).parameters:
        div = registry.create("divergence", name, **options, seed=seed)
    return div


def png_grid(x: torch.Tensor, columns: int = 8) -> bytes:
    """A batch as one PNG image, tiled row by row with a 1-pixel gap."""
    from PIL import Image

    from ..data import to_numpy

    n, c, h, w = x.shape
    rows = -(-n // columns)
    cols = min(columns, n)
    canvas = torch.ones(c, rows * (h + 1) - 1, cols * (w + 1) - 1)
    for i in range(n):
        r, q = divmod(i, columns)
        canvas[:, r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = x[i].detach().float().cpu()
    buf = io.BytesIO()
    Image.fromarray(to_numpy(canvas)).save(buf, format="PNG")
    return buf.getvalue()


def run_trial(config: dict[str, Any], device: str = "cpu", threads: int = 1, registry: Registry | None = None) -> Outcome:
    """Run one trial; never raises: a failure comes back as `Outcome.error`."""
    try:
        return _run(config, device, threads, registry or get_registry())
    except RdpkitError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a plugin's bug must fail its trial, not the sweep
        return Outcome(error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


def _run(config: dict[str, Any], device: str, threads: int, registry: Registry) -> Outcome:
    start = time.perf_counter()
    torch.set_num_threads(threads)
    seed = int(config["seed"])
    evaluate = config["evaluate"]
    train, reference, test = dataset(config["data"])
    dev = torch.device(device)

    _seed(seed)
    codec = registry.create("codec", config["codec"], **config["options"])
    fit_seconds = 0.0
    if codec.learnable:
        t = time.perf_counter()
        _fit(codec, train.to(dev), config["fit"], seed, device)
        fit_seconds = time.perf_counter() - t

    x = test.to(dev)
    with torch.no_grad():
        bits = codec.encode(x)
        data = bits.to_bytes()
        x_hat = codec.decode(data, seed=seed).to(dev)
    n, _, h, w = x.shape
    rate = {
        "bits_per_image": 8 * len(data) / n,
        "bpp": 8 * len(data) / (n * h * w),
        "payload_bits_per_image": bits.payload_bits_per_image,
        "bytes": len(data),
        "images": n,
    }

    components = {"codec": codec.info.as_dict() if codec.info else {"name": config["codec"]}}
    distortion: dict[str, dict[str, float]] = {}
    for name in evaluate["distortions"]:
        metric = registry.create("distortion", name).to(dev)
        with torch.no_grad():
            distortion[name] = _mean_stderr(metric(x, x_hat.to(x.dtype)))
        components[f"distortion:{name}"] = metric.info.as_dict()

    real = reference.to(dev)
    divergences: dict[str, dict[str, Any]] = {}
    names = ([evaluate["critic"]] if evaluate["critic"] else []) + list(evaluate["divergences"])
    for name in names:
        div = _divergence(registry, name, evaluate["critic_options"] if name == evaluate["critic"] else {}, seed)
        divergences[name] = div.estimate(real, x_hat, bootstrap=evaluate["bootstrap"], seed=seed).as_dict()
        components[f"divergence:{name}"] = div.info.as_dict()

    perception_name = evaluate["critic"] or evaluate["divergences"][0]
    result = {
        "rate": rate,
        "distortion": distortion,
        "primary_distortion": evaluate["distortions"][0],
        "divergences": divergences,
        "perception": {"name": perception_name, **divergences[perception_name]},
        "fit_seconds": fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "threads": threads,
        "software": software_versions(),
        "components": components,
    }
    k = min(evaluate["samples"], n)
    artifacts = {"samples.png": png_grid(x_hat[:k]), "originals.png": png_grid(x[:k])} if k else {}
    return Outcome(result=result, artifacts=artifacts)
