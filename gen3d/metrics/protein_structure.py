"""Steric clashes between heavy atoms and DSSP secondary structure (pydssp) of proteins.

Clashes: two heavy atoms of amino-acid residues clash when their van der Waals spheres (Bondi
radii) overlap by more than ``CLASH_OVERLAP`` = 0.4 Å, i.e. ``d < r_i + r_j - 0.4 Å``, the
MolProbity clash criterion. Pairs that are covalently close are exempt: atoms of one residue,
and atoms of two linked residues within four bonds of each other across the link (the peptide
bond of residues adjacent in a chain, broken or not, and S-S bridges, SG-SG < 2.5 Å): a 1-5
distance such as O(i)-C(i+1) is set by one torsion (phi) and is 2.6-2.7 Å in well-refined
crystal structures. The
clash score is clashes per 1000 heavy atoms, like MolProbity's clashscore; MolProbity counts
explicit hydrogens too, so the values are comparable in spirit, not in number. Ligands, ions and
waters are left out. A structure "has a clash" if it has at least one clashing pair, and "a severe
clash" if one overlaps by more than ``SEVERE_OVERLAP`` = 1.0 Å (e.g. C-C closer than 2.4 Å). Radii
are Bondi's except oxygen, 1.40 Å as in MolProbity's Probe (Word et al. 1999, J. Mol. Biol. 285,
1711), which keeps hydrogen-bonded N-O and O-O pairs at 2.6-2.8 Å from counting as clashes.
Polar pairs (N or O with N or O) may be hydrogen-bonded or salt-bridged, which Probe credits
through its explicit hydrogens; without hydrogens they clash only below ``POLAR_MIN`` = 2.2 Å,
shorter than the short hydrogen bonds and salt bridges (2.2-2.5 Å) of deposited structures.
Calibration: of 41 held-out whole chains of 40-80 residues from the pdb70 corpus, 34 % "have a
clash" under the plain 0.4 Å rule with three-bond exemptions (nearly all hydrogen bonds, salt
bridges and O(i)-C(i+1) contacts); with these two rules the rate is given in the metrics' tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from gen3d.data.atom_radii import CLASH_OVERLAP, DEFAULT_RADIUS, DISULFIDE_MAX, POLAR, POLAR_MIN, VDW_RADII
from gen3d.metrics.protein_geometry import Backbone, atom_residues
from gen3d.structures.protein import Protein

SEVERE_OVERLAP = 1.0  # Å; a C-C pair closer than 2.4 Å
HYDROGENS = ("H", "D")
MAX_LINK_BONDS = 4  # atoms of linked residues this many bonds apart or fewer never clash

# Bonds from the atoms that form a link: C(i) of a peptide bond, N(i+1), and SG of a disulfide.
GAMMA = {"CG": 3, "CG1": 3, "CG2": 3, "OG": 3, "OG1": 3, "SG": 3}
BONDS_FROM_C = {"C": 0, "CA": 1, "O": 1, "OXT": 1, "N": 2, "CB": 2, **GAMMA}
BONDS_FROM_N = {"N": 0, "CA": 1, "C": 2, "CB": 2, "O": 3, "OXT": 3, **GAMMA}
BONDS_FROM_N_PRO = {**BONDS_FROM_N, "CD": 1, "CG": 2}  # the proline ring closes on N
BONDS_FROM_SG = {"SG": 0, "CB": 1, "CA": 2, "C": 3, "N": 3, "CG": 3}
FAR = 9


@dataclass(frozen=True)
class Clashes:
    """Clashing heavy-atom pairs of a structure (atom indices into the ``Protein``) and the atom count."""

    pairs: np.ndarray  # (k, 2) int
    overlaps: np.ndarray  # (k,) Å, r_i + r_j - d
    heavy_atoms: int

    @property
    def count(self) -> int:
        return len(self.pairs)

    @property
    def score(self) -> float:
        """Clashes per 1000 heavy atoms (0 for a structure without atoms)."""
        return 1000.0 * self.count / self.heavy_atoms if self.heavy_atoms else 0.0


def lookup(keys: np.ndarray, table: dict[str, float], default: float) -> np.ndarray:
    """``table[key]`` for every key of an array (``default`` if absent); one dict access per distinct key."""
    distinct, inverse = np.unique(np.asarray(keys, dtype=str), return_inverse=True)
    values = np.array([table.get(str(k), default) for k in distinct], dtype=np.float64)
    return values[inverse.reshape(-1)] if len(distinct) else np.zeros(0)


def _bonds(names: np.ndarray, table: dict[str, int]) -> np.ndarray:
    """Bond count from a link atom for every atom name (``FAR`` if not listed)."""
    return lookup(names, table, FAR).astype(np.int64)


def _link_exempt(protein: Protein, bb: Backbone, i: np.ndarray, j: np.ndarray, res: np.ndarray) -> np.ndarray:
    """(k,) bool: pair (i, j) lies within three bonds across a peptide bond or a disulfide."""
    order = np.full(res.max() + 1 if len(res) else 0, -1)
    order[bb.residues] = np.arange(len(bb))
    a, b = order[res[i]], order[res[j]]
    swap = a > b
    i, j, a, b = np.where(swap, j, i), np.where(swap, i, j), np.minimum(a, b), np.maximum(a, b)
    names = protein.atom_names
    adjacent = np.zeros(len(a), dtype=bool)
    step = (b == a + 1) & (a >= 0)
    adjacent[step] = bb.adjacent[a[step]]
    pro = protein.residue_names[j] == "PRO"
    from_n = np.where(pro, _bonds(names[j], BONDS_FROM_N_PRO), _bonds(names[j], BONDS_FROM_N))
    peptide = adjacent & (_bonds(names[i], BONDS_FROM_C) + 1 + from_n <= MAX_LINK_BONDS)
    sg_i, sg_j = _bonds(names[i], BONDS_FROM_SG), _bonds(names[j], BONDS_FROM_SG)
    d = np.linalg.norm(protein.positions[i] - protein.positions[j], axis=1)
    bridge = (sg_i == 0) & (sg_j == 0) & (d < DISULFIDE_MAX)
    bridged = np.isin(a * len(bb) + b, (a * len(bb) + b)[bridge])
    return peptide | (bridged & (sg_i + 1 + sg_j <= MAX_LINK_BONDS))


def clashes(protein: Protein, bb: Backbone) -> Clashes:
    """Heavy-atom pairs of amino-acid residues overlapping by more than 0.4 Å, covalent neighbours exempt."""
    res = atom_residues(protein)
    elements = np.char.upper(protein.elements)
    atoms = np.flatnonzero(np.isin(res, bb.residues) & ~np.isin(elements, HYDROGENS))
    radii = lookup(elements[atoms], VDW_RADII, DEFAULT_RADIUS)
    if len(atoms) < 2:
        return Clashes(np.zeros((0, 2), np.int64), np.zeros(0), len(atoms))
    cutoff = 2 * radii.max() - CLASH_OVERLAP
    pairs = cKDTree(protein.positions[atoms]).query_pairs(cutoff, output_type="ndarray")
    d = np.linalg.norm(protein.positions[atoms[pairs[:, 0]]] - protein.positions[atoms[pairs[:, 1]]], axis=1)
    overlap = radii[pairs[:, 0]] + radii[pairs[:, 1]] - d
    i, j = atoms[pairs[:, 0]], atoms[pairs[:, 1]]
    polar = np.isin(elements[i], POLAR) & np.isin(elements[j], POLAR)
    keep = np.where(polar, d < POLAR_MIN, overlap > CLASH_OVERLAP) & (res[i] != res[j])
    keep[keep] = ~_link_exempt(protein, bb, i[keep], j[keep], res)
    return Clashes(np.stack([i[keep], j[keep]], axis=1), overlap[keep], len(atoms))


SS_LABELS = ("loop", "helix", "strand")


def secondary_structure(bb: Backbone) -> np.ndarray:
    """(L,) DSSP class per residue by pydssp: 0 loop, 1 helix (H, G, I), 2 strand (E, B); -1 without N/CA/C/O.

    Residues missing a backbone atom are left out before DSSP runs (their neighbours may lose
    hydrogen bonds); prolines donate no hydrogen bond.
    """
    from pydssp.pydssp_numpy import assign

    out = np.full(len(bb), -1, dtype=np.int64)
    rows = np.flatnonzero(bb.complete)
    if len(rows) < 6:  # too short for a helix turn or a bridge; pydssp needs a few residues
        out[rows] = 0
        return out
    onehot = assign(bb.coords[rows].astype(np.float64), donor_mask=bb.residue_names[rows] != "PRO")
    out[rows] = np.argmax(onehot, axis=-1)
    return out


def secondary_structure_fractions(ss: np.ndarray) -> dict[str, float | None]:
    """Fractions of loop, helix and strand among the residues DSSP could assign (None if none)."""
    assigned = ss[ss >= 0]
    if len(assigned) == 0:
        return {name: None for name in SS_LABELS}
    return {name: float((assigned == k).mean()) for k, name in enumerate(SS_LABELS)}

