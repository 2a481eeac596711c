"""The reference-recovery (blind-spot) test of Ding et al. (IJCV 2021, section 3.1).

Given a reference x and an initial image y0, solve y* = argmin_y D(x, y) by gradient descent
with y kept in [0, 1], and judge whether x came back (`recovered`), whether D scores a y* far
from x as near-perfect (`blind spot`), or neither (`not converged`)::

    from rdpkit.recovery import recover, audit, write_report
    r = recover("ms-ssim", "builtin:astronaut", init="jpeg:10", size=192)
    print(r.verdict.label, r.verdict.reason)
    write_report(audit(["mse", "lpips-alex,pretrained=false"]), "rdpkit-audit/report.html")

Importing this package does not import torch; the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "recover": "run", "recover_many": "run",
    "RecoveryResult": "result", "RecoveryTrial": "trial",
    "audit": "audit", "AuditResult": "audit",
    "write_report": "report", "write_gallery": "report", "save_result": "report",
    "Profile": "profiles", "PROFILES": "profiles",
    "Settings": "settings", "Thresholds": "verdict", "Verdict": "verdict",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LAZY)
