"""The measurement layer: everything that turns original and decoded images into numbers.

Below every harness (sweep, plane, evaluate) and above the registry: per-image distortions and
no-reference critics, set divergences over images, patches or features, each column with its
direction and range. See `rdpkit.measures.meter`.
"""

from .meter import Measured, Measures, Meter, PatchScores, seed_everything
from .values import Column, Measurement, Perception

__all__ = ["Column", "Measured", "Measurement", "Measures", "Meter", "PatchScores", "Perception", "seed_everything"]
