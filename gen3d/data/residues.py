"""The 20 standard amino acids in a fixed 14-slot heavy-atom layout, their symmetric atom pairs,
and the modified residues mapped onto them.

Slot 0-3 are the backbone N, CA, C, O; slots 4+ hold the side chain in PDB naming order
(the "atom14" layout). Every residue of a protein becomes ``aatype`` (0-19), ``coords``
``(14, 3)`` in Å and ``mask`` ``(14,)``; empty slots are masked, never filled in.
"""

from __future__ import annotations

import numpy as np

NUM_SLOTS = 14
CA = 1
BACKBONE = ("N", "CA", "C", "O")

ATOMS: dict[str, tuple[str, ...]] = {
    "ALA": ("CB",),
    "ARG": ("CB", "CG", "CD", "NE", "CZ", "NH1", "NH2"),
    "ASN": ("CB", "CG", "OD1", "ND2"),
    "ASP": ("CB", "CG", "OD1", "OD2"),
    "CYS": ("CB", "SG"),
    "GLN": ("CB", "CG", "CD", "OE1", "NE2"),
    "GLU": ("CB", "CG", "CD", "OE1", "OE2"),
    "GLY": (),
    "HIS": ("CB", "CG", "ND1", "CD2", "CE1", "NE2"),
    "ILE": ("CB", "CG1", "CG2", "CD1"),
    "LEU": ("CB", "CG", "CD1", "CD2"),
    "LYS": ("CB", "CG", "CD", "CE", "NZ"),
    "MET": ("CB", "CG", "SD", "CE"),
    "PHE": ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ"),
    "PRO": ("CB", "CG", "CD"),
    "SER": ("CB", "OG"),
    "THR": ("CB", "OG1", "CG2"),
    "TRP": ("CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"),
    "TYR": ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH"),
    "VAL": ("CB", "CG1", "CG2"),
}
RESIDUES: tuple[str, ...] = tuple(ATOMS)  # index = residue type
ONE_LETTER = dict(zip(RESIDUES, "ARNDCQEGHILKMFPSTWYV"))
RESIDUE_INDEX = {res: i for i, res in enumerate(RESIDUES)}
SLOT_NAMES: dict[str, tuple[str, ...]] = {res: BACKBONE + side for res, side in ATOMS.items()}

# Atom pairs whose names are interchangeable by symmetry (swapping them gives the same molecule).
SYMMETRIC_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "ARG": (("NH1", "NH2"),),
    "ASP": (("OD1", "OD2"),),
    "GLU": (("OE1", "OE2"),),
    "PHE": (("CD1", "CD2"), ("CE1", "CE2")),
    "TYR": (("CD1", "CD2"), ("CE1", "CE2")),
}
MAX_PAIRS = 2

# Modified residues read as their parent, with renamed atoms; other atoms of theirs are dropped.
MODIFIED: dict[str, tuple[str, dict[str, str]]] = {
    "MSE": ("MET", {"SE": "SD"}),
    "SEC": ("CYS", {"SE": "SG"}),
    "CSO": ("CYS", {}), "CSD": ("CYS", {}), "CME": ("CYS", {}), "OCS": ("CYS", {}), "CSS": ("CYS", {}),
    "SEP": ("SER", {}), "TPO": ("THR", {}), "PTR": ("TYR", {}),
    "MLY": ("LYS", {}), "M3L": ("LYS", {}), "KCX": ("LYS", {}), "LLP": ("LYS", {}), "ALY": ("LYS", {}),
    "HYP": ("PRO", {}), "PCA": ("GLU", {}),
    "HID": ("HIS", {}), "HIE": ("HIS", {}), "HIP": ("HIS", {}), "HSD": ("HIS", {}), "HSE": ("HIS", {}), "HSP": ("HIS", {}),
    "CYX": ("CYS", {}), "ASH": ("ASP", {}), "GLH": ("GLU", {}), "LYN": ("LYS", {}),
}


# Atom names some force-field files use for standard residues (CHARMM/GROMACS write Ile CD for CD1).
ATOM_ALIASES: dict[str, dict[str, str]] = {"ILE": {"CD": "CD1"}}


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-residue-type slot mask (20, 14), pair slots (20, MAX_PAIRS, 2) (-1: none), element letters (20, 14)."""
    exists = np.zeros((20, NUM_SLOTS), dtype=bool)
    pairs = np.full((20, MAX_PAIRS, 2), -1, dtype=np.int64)
    elements = np.full((20, NUM_SLOTS), "", dtype="<U1")
    for i, res in enumerate(RESIDUES):
        names = SLOT_NAMES[res]
        exists[i, : len(names)] = True
        elements[i, : len(names)] = [n[0] for n in names]
        for k, (a, b) in enumerate(SYMMETRIC_PAIRS.get(res, ())):
            pairs[i, k] = names.index(a), names.index(b)
    return exists, pairs, elements


SLOT_EXISTS, PAIR_SLOTS, SLOT_ELEMENTS = _tables()


def canonical(name: str) -> tuple[str, dict[str, str]] | None:
    """(standard residue, atom renames) for a standard or known modified residue name, else None."""
    name = name.strip().upper()
    if name in ATOMS:
        return name, ATOM_ALIASES.get(name, {})
    mapped = MODIFIED.get(name)
    if mapped is None:
        return None
    parent, renames = mapped
    return parent, {**ATOM_ALIASES.get(parent, {}), **renames}


def sequence_string(aatype: np.ndarray) -> str:
    """One-letter sequence of residue-type indices."""
    return "".join(ONE_LETTER[RESIDUES[int(a)]] for a in aatype)
