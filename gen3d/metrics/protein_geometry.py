"""Backbone geometry of proteins: N/CA/C/O per residue, chain breaks, bond lengths and angles, dihedrals, Rg.

Everything works on a :class:`Backbone`, the amino-acid residues of a ``Protein`` (residues with a
carbon ``CA`` and an ``N`` or ``C``, or a standard or modified amino-acid name) as ``(L, 4, 3)``
arrays, NaN where an atom is missing, so CA-only traces work too. Two residues are *adjacent*
when they follow each other in the same chain (file order); adjacent residues are *bonded*
unless the chain is broken between them.

Ideal values are Engh & Huber (1991), Acta Cryst. A47, 392, for non-Gly, non-Pro residues (one
set for all residues, a simplification): lengths in Å, angles in degrees, each with its standard
deviation. A measurement is an outlier beyond ``OUTLIER_SIGMAS`` standard deviations, the
MolProbity convention for bond lengths and angles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen3d.data.residues import MODIFIED, RESIDUES
from gen3d.structures.protein import Protein

BACKBONE_ATOMS = ("N", "CA", "C", "O")
AMINO_ACIDS = (*RESIDUES, *MODIFIED)  # a carbon CA alone makes these a residue (CA-only traces)
N, CA, C, O = range(4)

CHAIN_BREAK_C_N = 2.0  # Å; a longer C(i)-N(i+1) distance is a chain break
CHAIN_BREAK_CA_CA = 4.2  # Å; the break test when C(i) or N(i+1) is missing (trans 3.8 Å, cis 2.9 Å)

# Engh & Huber (1991): ideal value and standard deviation; lengths in Å, angles in degrees.
IDEAL_BONDS: dict[str, tuple[float, float]] = {
    "n_ca": (1.458, 0.019),
    "ca_c": (1.525, 0.021),
    "c_n": (1.329, 0.014),  # C(i)-N(i+1), the peptide bond
}
IDEAL_ANGLES: dict[str, tuple[float, float]] = {
    "n_ca_c": (111.2, 2.8),
    "ca_c_n": (116.2, 2.0),  # CA(i)-C(i)-N(i+1)
    "c_n_ca": (121.7, 1.8),  # C(i)-N(i+1)-CA(i+1)
}
OUTLIER_SIGMAS = 4.0

RG_PREFACTOR, RG_EXPONENT = 2.2, 0.38  # Rg ≈ 2.2 L^0.38 Å for compact globular proteins (CA atoms)


@dataclass(frozen=True)
class Backbone:
    """The amino-acid residues of a protein: backbone coordinates (NaN if missing), names, chain links."""

    coords: np.ndarray  # (L, 4, 3) float, Å: N, CA, C, O
    residue_names: np.ndarray  # (L,) str
    chain_ids: np.ndarray  # (L,) str
    residues: np.ndarray  # (L,) int: index of the residue among all residues of the protein
    adjacent: np.ndarray  # (L-1,) bool: residue i and i+1 follow each other in the same chain

    def __len__(self) -> int:
        return len(self.coords)

    @property
    def ca(self) -> np.ndarray:
        """CA coordinates (L, 3), Å."""
        return self.coords[:, CA]

    @property
    def complete(self) -> np.ndarray:
        """(L,) bool: all four of N, CA, C, O are present."""
        return ~np.isnan(self.coords[..., 0]).any(axis=1)


def atom_residues(protein: Protein) -> np.ndarray:
    """Residue index of every atom (residues are runs of equal chain, number and insertion code)."""
    starts = protein.residue_starts()
    return np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(protein))))


def backbone(protein: Protein) -> Backbone:
    """Backbone N, CA, C, O of every amino-acid residue of ``protein`` (first atom of a name wins)."""
    starts = protein.residue_starts()
    residue = atom_residues(protein)
    coords = np.full((len(starts), 4, 3), np.nan)
    for k, name in enumerate(BACKBONE_ATOMS):
        rows = np.flatnonzero(protein.atom_names == name)
        if name == "CA":  # not a calcium ion
            rows = rows[np.char.upper(protein.elements[rows]) == "C"]
        coords[residue[rows[::-1]], k] = protein.positions[rows[::-1]]  # reversed: the first one is written last
    present = ~np.isnan(coords[..., 0])
    known = np.isin(protein.residue_names[starts], AMINO_ACIDS)
    keep = np.flatnonzero(present[:, CA] & (present[:, N] | present[:, C] | known))
    chains = protein.chain_ids[starts][keep]
    return Backbone(
        coords=coords[keep], residue_names=protein.residue_names[starts][keep], chain_ids=chains,
        residues=keep, adjacent=chains[1:] == chains[:-1],
    )


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt((v * v).sum(axis=-1))


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise distances between two (n, 3) arrays."""
    return _norm(a - b)


def angles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angles a-b-c in degrees, row-wise."""
    u, v = a - b, c - b
    cos = (u * v).sum(axis=-1) / (_norm(u) * _norm(v))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def dihedrals(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Dihedral angles a-b-c-d in degrees (-180, 180], row-wise (IUPAC sign convention)."""
    b0, b1, b2 = a - b, c - b, d - c
    b1 = b1 / _norm(b1)[..., None]
    v = b0 - (b0 * b1).sum(axis=-1, keepdims=True) * b1
    w = b2 - (b2 * b1).sum(axis=-1, keepdims=True) * b1
    x = (v * w).sum(axis=-1)
    y = (np.cross(b1, v) * w).sum(axis=-1)
    return np.degrees(np.arctan2(y, x))


def breaks(bb: Backbone) -> np.ndarray:
    """(L-1,) bool: adjacent residues whose C-N distance exceeds 2.0 Å (CA-CA 4.2 Å when C or N is missing)."""
    c_n = distances(bb.coords[:-1, C], bb.coords[1:, N])
    ca_ca = distances(bb.coords[:-1, CA], bb.coords[1:, CA])
    broken = np.where(np.isnan(c_n), ca_ca > CHAIN_BREAK_CA_CA, c_n > CHAIN_BREAK_C_N)
    return bb.adjacent & broken


def bonded(bb: Backbone) -> np.ndarray:
    """(L-1,) bool: residue i and i+1 are joined by a peptide bond (adjacent and not broken)."""
    return bb.adjacent & ~breaks(bb)


def backbone_measurements(bb: Backbone) -> dict[str, np.ndarray]:
    """Every backbone bond length (Å) and angle (degrees) by type; peptide terms only across bonded pairs."""
    x = bb.coords
    link = np.flatnonzero(bonded(bb))
    prev, nxt = x[link], x[link + 1]
    values = {
        "n_ca": distances(x[:, N], x[:, CA]),
        "ca_c": distances(x[:, CA], x[:, C]),
        "c_n": distances(prev[:, C], nxt[:, N]),
        "n_ca_c": angles(x[:, N], x[:, CA], x[:, C]),
        "ca_c_n": angles(prev[:, CA], prev[:, C], nxt[:, N]),
        "c_n_ca": angles(prev[:, C], nxt[:, N], nxt[:, CA]),
    }
    return {k: v[~np.isnan(v)] for k, v in values.items()}


def ideal_values() -> dict[str, tuple[float, float]]:
    """Ideal value and standard deviation of every measurement of :func:`backbone_measurements`."""
    return {**IDEAL_BONDS, **IDEAL_ANGLES}


def deviations(measured: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Absolute deviation from the ideal value of every measurement (Å or degrees)."""
    ideal = ideal_values()
    return {k: np.abs(v - ideal[k][0]) for k, v in measured.items()}


def outliers(measured: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(n,) bool per type: the measurement lies more than 4 standard deviations from its ideal value."""
    ideal = ideal_values()
    return {k: np.abs(v - ideal[k][0]) > OUTLIER_SIGMAS * ideal[k][1] for k, v in measured.items()}


def phi_psi(bb: Backbone) -> tuple[np.ndarray, np.ndarray]:
    """(L,) phi and psi in degrees; NaN at chain ends, breaks and missing atoms."""
    x = bb.coords
    link = bonded(bb)
    phi = np.full(len(bb), np.nan)
    psi = np.full(len(bb), np.nan)
    if len(bb) > 1:
        phi[1:] = np.where(link, dihedrals(x[:-1, C], x[1:, N], x[1:, CA], x[1:, C]), np.nan)
        psi[:-1] = np.where(link, dihedrals(x[:-1, N], x[:-1, CA], x[:-1, C], x[1:, N]), np.nan)
    return phi, psi


def radius_of_gyration(bb: Backbone) -> float:
    """Radius of gyration of the CA atoms (Å); NaN without residues."""
    if len(bb) == 0:
        return float("nan")
    ca = bb.ca
    return float(np.sqrt(((ca - ca.mean(axis=0)) ** 2).sum(axis=1).mean()))


def expected_rg(length: int | np.ndarray) -> float | np.ndarray:
    """Radius of gyration (Å) expected of a compact globular protein of ``length`` residues: 2.2 L^0.38."""
    return RG_PREFACTOR * np.asarray(length, dtype=np.float64) ** RG_EXPONENT
