"""Writes store-v1.sqlite: a result store of schema 1 (two recovery trials, three sweep trials).

Run once with the code of commit e023abc (before the trial layer): `python tests/data/make_store_v1.py tests/data/store-v1.sqlite`.
The migration test loads the file it wrote with today's code.
"""
import sys
from pathlib import Path

from rdpkit.recovery.audit import audit
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.runner import run_sweep


def main():
    path = Path(sys.argv[1])
    audit(["mse", "ssim"], images=["builtin:astronaut"], inits=["noise"], size=32, steps=30, device="cpu", store=path, progress=False)
    cfg = SweepConfig.from_dict({
        "sweep": {"name": "v1", "seeds": [0]},
        "data": {"source": "digits", "limit": 64},
        "codec": [{"name": "sq", "grid": {"levels": [4, 8]}}, {"name": "jpeg", "options": {"quality": 50}, "label": "jpeg q50"}],
        "evaluate": {"distortions": ["mse"], "critic": "", "divergences": ["wasserstein-sliced"], "samples": 4},
    })
    print(run_sweep(cfg, path, workers=1, progress=False))

if __name__ == "__main__":
    main()