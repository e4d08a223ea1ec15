"""Point groups, symmetry-breaking sets and relaxed equivariance (Xie & Smidt, TMLR 2024)."""

from gen3d.symmetry.classify import align, classify
from gen3d.symmetry.detect import PointGroup, detect_molecule, detect_point_group
from gen3d.symmetry.errors import SymmetryError
from gen3d.symmetry.groups import CRYSTALLOGRAPHIC, normalise_symbol, point_group
from gen3d.symmetry.sets import BreakingSet, breaking_set, breaking_set_for

__all__ = [
    "CRYSTALLOGRAPHIC",
    "BreakingSet",
    "PointGroup",
    "SymmetryError",
    "align",
    "breaking_set",
    "breaking_set_for",
    "classify",
    "detect_molecule",
    "detect_point_group",
    "normalise_symbol",
    "point_group",
]
