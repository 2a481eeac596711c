"""The field's evaluation protocol: codecs × settings × a dataset → bpp from real bytes, every
distortion, FID and KID on patches, BD tables against any anchor, CompressAI-format results.

    >>> from rdpkit.evaluate import evaluate, write
    >>> ev = evaluate(["jpeg,quality=[10,30,50,70]", "webp,quality=[10,40,70]"], "builtin:held-out",
    ...               anchors=["published:vtm"])
    >>> write(ev, "rdpkit-evaluate/")          # CSV, results/*.json, rd-*.png, bd.csv, index.html

The command line mirrors it: ``rdpkit evaluate`` and ``rdpkit bd``.
"""

from __future__ import annotations

from .report import bd_frame, bd_wide, write
from .run import Evaluation, evaluate, expand
from .trial import EvaluateResult, EvaluateTrial

__all__ = ["EvaluateResult", "EvaluateTrial", "Evaluation", "bd_frame", "bd_wide", "evaluate", "expand", "write"]
