"""``Protein``: chains of residues with named atoms, coordinates (Å) and residue numbering."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Protein:
    """An atomistic protein model as flat per-atom arrays (PDB-like, one model).

    Every atom has a chain id, residue number, insertion code, residue name, atom name,
    element and position; residues are the runs of identical (chain, number, icode).
    """

    chain_ids: np.ndarray  # (n,) str
    residue_numbers: np.ndarray  # (n,) int
    insertion_codes: np.ndarray  # (n,) str ("" if none)
    residue_names: np.ndarray  # (n,) str, three-letter
    atom_names: np.ndarray  # (n,) str
    elements: np.ndarray  # (n,) str
    positions: np.ndarray  # (n, 3) float, Å
    b_factors: np.ndarray | None = None
    name: str = ""
    properties: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.positions)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        for attr in ("chain_ids", "insertion_codes", "residue_names", "atom_names", "elements"):
            setattr(self, attr, np.asarray(getattr(self, attr), dtype=str))
        self.residue_numbers = np.asarray(self.residue_numbers, dtype=np.int64)
        for attr in ("chain_ids", "residue_numbers", "insertion_codes", "residue_names", "atom_names", "elements"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"Protein.{attr} has {len(getattr(self, attr))} entries for {n} atoms")

    def __len__(self) -> int:
        return len(self.positions)

    def residue_starts(self) -> np.ndarray:
        """Index of the first atom of every residue."""
        key = np.char.add(np.char.add(self.chain_ids, self.residue_numbers.astype(str)), self.insertion_codes)
        change = np.ones(len(key), dtype=bool)
        change[1:] = key[1:] != key[:-1]
        return np.flatnonzero(change)

    @property
    def num_residues(self) -> int:
        return len(self.residue_starts())

    def sequence(self) -> dict[str, str]:
        """One-letter sequence per chain (X for unknown residues)."""
        from Bio.PDB.Polypeptide import three_to_index, index_to_one

        out: dict[str, str] = {}
        for i in self.residue_starts():
            try:
                letter = index_to_one(three_to_index(self.residue_names[i]))
            except (KeyError, ValueError):
                letter = "X"
            out[self.chain_ids[i]] = out.get(self.chain_ids[i], "") + letter
        return out
