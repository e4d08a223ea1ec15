"""Heavy-atom contact radii and the clash thresholds built on them (shared by clash scores and steric terms)."""

from __future__ import annotations

VDW_RADII = {"C": 1.70, "N": 1.55, "O": 1.40, "S": 1.80, "SE": 1.90}  # Å; Bondi (1964), O from Probe
DEFAULT_RADIUS = 1.80  # Å, any other element
CLASH_OVERLAP = 0.4  # Å
POLAR = ("N", "O")
POLAR_MIN = 2.2  # Å; N/O pairs closer than this clash (shorter than deposited hydrogen bonds and salt bridges)
DISULFIDE_MAX = 2.5  # Å, SG-SG distance of a disulfide bridge
