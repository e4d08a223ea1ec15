"""Plain typed containers for generated structures and their conversions."""

from gen3d.structures.molecule import Molecule
from gen3d.structures.protein import Protein
from gen3d.structures.trajectory import Trajectory

__all__ = ["Molecule", "Protein", "Trajectory"]
