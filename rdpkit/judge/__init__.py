"""Agreement with human judgments (``rdpkit judge``): the subjective-quality datasets, their statistics and published values.

The datasets (`judgments("tid2013:~/data/TID2013")`, ...) live in `rdpkit.judge.datasets`, offline
stand-ins of them in `rdpkit.judge.fixture`.
"""

from .datasets import (
    LAYOUTS,
    Judgments,
    Pair,
    Pairs2AFC,
    PairsJND,
    Rated,
    Ratings,
    Triplet,
    judgments,
)
from .fixture import make_fixture

__all__ = ["LAYOUTS", "Judgments", "Pair", "Pairs2AFC", "PairsJND", "Rated", "Ratings", "Triplet", "judgments", "make_fixture"]
