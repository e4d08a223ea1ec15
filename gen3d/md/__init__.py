"""Reference molecular dynamics with OpenMM: the default protocol, peptide building, simulation."""

from gen3d.md.peptides import build_capped_peptide
from gen3d.md.protocol import DEFAULT_PROTOCOL, MDProtocol
from gen3d.md.runner import MDRun, simulate

__all__ = ["DEFAULT_PROTOCOL", "MDProtocol", "MDRun", "build_capped_peptide", "simulate"]
