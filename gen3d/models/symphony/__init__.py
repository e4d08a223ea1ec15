"""Symphony: autoregressive E(3)-equivariant molecule generation with spherical-harmonic signals."""

from gen3d.models.symphony.config import SymphonyConfig
from gen3d.models.symphony.model import Symphony

__all__ = ["Symphony", "SymphonyConfig"]
