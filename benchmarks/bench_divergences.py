"""Divergence estimators: rdpkit against POT, geomloss and a scipy k-d tree on the same samples.

* Sliced Wasserstein on two N×64 sets (N = 10,000), PROJECTIONS directions: rdpkit's
  `sliced_w2_squared` (torch) against POT's `sliced_wasserstein_distance`, given the very same
  directions, so the values must agree to 1e-4 (both sum float32 projections, in other orders).
* Debiased Sinkhorn divergence on two N×64 sets, blur 0.5 and ε-scaling 0.5: rdpkit's
  `sinkhorn_divergence` against geomloss's `SamplesLoss("sinkhorn", p=2, backend="tensorized")`.
  geomloss's p = 2 cost is ½‖x − y‖², so rdpkit's value must be twice geomloss's (to 1%).
  POT is not timed here: its Sinkhorn solvers have no ε-scaling, so at this ε they need
  thousands of iterations, and its debiased divergence leaves out the entropy term (another
  quantity).
* kNN KL on two N×16 sets: rdpkit's `KLKNN` against the same estimator written with scipy's
  `cKDTree` (workers=-1); values must agree to 1e-9.

Times are the best of REPEATS runs; the ratio is the peer's time over rdpkit's (above 1:
rdpkit is faster). The script exits with status 1 when values disagree, never because of
speed.

    .venv/bin/python benchmarks/bench_divergences.py [--n 10000] [--repeats 3] [--projections 256]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from rdpkit.divergences.knn import KLKNN
from rdpkit.divergences.sinkhorn import sinkhorn_divergence
from rdpkit.divergences.sliced import random_directions, sliced_w2_squared


def best_time(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    """(value, best wall time in seconds) over `repeats` runs."""
    times, value = [], math.nan
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, min(times)


def report(name: str, ours: tuple[float, float], peer_name: str, theirs: tuple[float, float], agree: bool) -> bool:
    print(f"{name:<28} rdpkit {ours[1]:8.3f} s   {peer_name:<22} {theirs[1]:8.3f} s   ratio {theirs[1] / ours[1]:6.2f}   "
          f"values {ours[0]:.6g} / {theirs[0]:.6g} {'agree' if agree else 'DISAGREE'}")
    return agree


def sliced(x: torch.Tensor, y: torch.Tensor, projections: int, repeats: int) -> bool:
    import ot

    dirs = random_directions(x.shape[1], projections, seed=0)
    ours = best_time(lambda: math.sqrt(float(sliced_w2_squared(x, y, dirs).mean())), repeats)
    xn, yn, dn = x.numpy(), y.numpy(), dirs.numpy()
    theirs = best_time(lambda: float(ot.sliced_wasserstein_distance(xn, yn, projections=dn)), repeats)
    return report(f"sliced W2, {projections} dirs", ours, "POT", theirs, math.isclose(ours[0], theirs[0], rel_tol=1e-4))


def sinkhorn(x: torch.Tensor, y: torch.Tensor, repeats: int) -> bool:
    from geomloss import SamplesLoss

    blur = 0.5
    ours = best_time(lambda: float(sinkhorn_divergence(x, y, blur=blur, scaling=0.5)[0]), repeats)
    loss = SamplesLoss("sinkhorn", p=2, blur=blur, scaling=0.5, backend="tensorized")
    theirs = best_time(lambda: 2 * float(loss(x, y)), repeats)
    return report("Sinkhorn divergence", ours, "geomloss (×2)", theirs, math.isclose(ours[0], theirs[0], rel_tol=0.01))


def knn_reference(p: np.ndarray, q: np.ndarray) -> float:
    """Wang–Kulkarni–Verdú with k = 1, the plain way: two k-d trees."""
    from scipy.spatial import cKDTree

    n, d = p.shape
    rho = cKDTree(p).query(p, k=2, workers=-1)[0][:, 1]
    nu = cKDTree(q).query(p, k=1, workers=-1)[0]
    return d * float(np.mean(np.log(nu / rho))) + math.log(len(q) / (n - 1))


def knn(p: torch.Tensor, q: torch.Tensor, repeats: int) -> bool:
    div = KLKNN()
    ours = best_time(lambda: div.estimate(p, q).value, repeats)
    pn, qn = p.double().numpy(), q.double().numpy()
    theirs = best_time(lambda: knn_reference(pn, qn), repeats)
    return report(f"kNN KL, {p.shape[1]}-D", ours, "scipy cKDTree", theirs, math.isclose(ours[0], theirs[0], rel_tol=1e-9))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--projections", type=int, default=256)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    x64, y64 = torch.randn(args.n, 64, generator=g), torch.randn(args.n, 64, generator=g) * 1.2 + 0.3
    x16, y16 = x64[:, :16].contiguous(), y64[:, :16].contiguous()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; N = {args.n}")
    ok = [sliced(x64, y64, args.projections, args.repeats), sinkhorn(x64, y64, args.repeats), knn(x16, y16, args.repeats)]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
