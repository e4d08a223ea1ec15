"""Capped peptides (ACE-...-NME) from a one-letter sequence, for transferability data.

The backbone is placed from ideal internal coordinates (polyproline-II dihedrals); side chains
and hydrogens are added from PDBFixer's templates, and the caller minimises before dynamics.
"""

from __future__ import annotations

import io

import numpy as np

from gen3d.data.residues import ONE_LETTER
from gen3d.md.seeding import seeded_random

ONE_TO_THREE = {letter: name for name, letter in ONE_LETTER.items()}

# Ideal bond lengths (Å), angles and PPII dihedrals (degrees).
BOND = {"N-CA": 1.458, "CA-C": 1.525, "C-N": 1.329, "C-O": 1.231, "CA-CB": 1.530}
ANGLE = {"N-CA-C": 111.2, "CA-C-N": 116.2, "C-N-CA": 121.7, "CA-C-O": 120.5, "N-CA-CB": 110.5}
PHI, PSI, OMEGA = -75.0, 145.0, 180.0
CB_DIHEDRAL = -122.6  # C-N-CA-CB of an L residue


def place(a: np.ndarray, b: np.ndarray, c: np.ndarray, bond: float, angle: float, torsion: float) -> np.ndarray:
    """Position of d with |cd| = bond, angle bcd and dihedral abcd (degrees) (NeRF)."""
    angle, torsion = np.radians(angle), np.radians(torsion)
    bc = (c - b) / np.linalg.norm(c - b)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.stack([bc, np.cross(n, bc), n], axis=1)
    d = np.array([-bond * np.cos(angle), bond * np.sin(angle) * np.cos(torsion), bond * np.sin(angle) * np.sin(torsion)])
    return c + m @ d


def _backbone(n: int) -> list[np.ndarray]:
    """CH3(ACE), C(ACE), then N, CA, C per residue, then N, CH3 of NME."""
    trace = [np.array([0.0, 1.4, 0.0]), np.array([0.0, 0.0, 0.0]), np.array([1.2, -0.7, 0.0])]
    kinds = ["N"]  # kind of the atom at trace[-1]
    for _ in range(n):
        for kind, bond, angle, torsion in (
            ("CA", BOND["N-CA"], ANGLE["C-N-CA"], OMEGA),
            ("C", BOND["CA-C"], ANGLE["N-CA-C"], PHI),
            ("N", BOND["C-N"], ANGLE["CA-C-N"], PSI),
        ):
            trace.append(place(trace[-3], trace[-2], trace[-1], bond, angle, torsion))
            kinds.append(kind)
    trace.append(place(trace[-3], trace[-2], trace[-1], BOND["N-CA"], ANGLE["C-N-CA"], OMEGA))
    return trace


def backbone_pdb(sequence: str) -> str:
    """PDB text of the capped backbone (plus CB) that PDBFixer completes."""
    residues = [ONE_TO_THREE.get(letter) for letter in sequence.upper()]
    if not sequence or None in residues:
        bad = sorted({c for c in sequence.upper() if c not in ONE_TO_THREE}) or ["(empty)"]
        raise ValueError(f"unknown residue letters in sequence {sequence!r}: {''.join(bad)}")
    t = _backbone(len(residues))
    atoms: list[tuple[str, str, int, np.ndarray]] = [("ACE", "CH3", 1, t[0]), ("ACE", "C", 1, t[1])]
    atoms.append(("ACE", "O", 1, place(t[3], t[2], t[1], BOND["C-O"], ANGLE["CA-C-O"], 0.0)))
    for k, name in enumerate(residues):
        n, ca, c, nxt = t[2 + 3 * k], t[3 + 3 * k], t[4 + 3 * k], t[5 + 3 * k]
        number = k + 2
        atoms += [(name, "N", number, n), (name, "CA", number, ca), (name, "C", number, c)]
        atoms.append((name, "O", number, place(nxt, ca, c, BOND["C-O"], ANGLE["CA-C-O"], 180.0)))
        if name != "GLY":
            atoms.append((name, "CB", number, place(c, n, ca, BOND["CA-CB"], ANGLE["N-CA-CB"], CB_DIHEDRAL)))
    last = len(residues) + 2
    atoms += [("NME", "N", last, t[-2]), ("NME", "C", last, t[-1])]
    lines = [
        f"ATOM  {i:5d} {name:<4s} {res:3s} A{num:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {name[0]:>2s}"
        for i, (res, name, num, (x, y, z)) in enumerate(atoms, 1)
    ]
    return "\n".join(lines + ["TER", "END", ""])


def build_capped_peptide(sequence: str):
    """(openmm Topology, positions) of ACE-sequence-NME with side chains and hydrogens at pH 7."""
    from pdbfixer import PDBFixer

    fixer = PDBFixer(pdbfile=io.StringIO(backbone_pdb(sequence)))
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    with seeded_random(0):
        fixer.addMissingAtoms(seed=0)
        fixer.addMissingHydrogens(7.0)
    return fixer.topology, fixer.positions
