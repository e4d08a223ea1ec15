"""``Molecule``: atomic numbers and 3D positions (Å), optional bonds and formal charges."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Molecule:
    """A small molecule.

    ``bonds`` is ``(m, 3)`` int: atom i, atom j, bond order (1, 2, 3; 4 = aromatic);
    ``properties`` carries per-molecule annotations (e.g. validity flags written as SD tags).
    """

    numbers: np.ndarray
    positions: np.ndarray
    bonds: np.ndarray | None = None
    charges: np.ndarray | None = None
    name: str = ""
    properties: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.numbers = np.asarray(self.numbers, dtype=np.int64).reshape(-1)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        if len(self.numbers) != len(self.positions):
            raise ValueError(f"{len(self.numbers)} atomic numbers but {len(self.positions)} positions")
        if self.bonds is not None:
            self.bonds = np.asarray(self.bonds, dtype=np.int64).reshape(-1, 3)
        if self.charges is not None:
            self.charges = np.asarray(self.charges, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def formula(self) -> str:
        """Hill formula, e.g. ``C2H6O``."""
        from rdkit.Chem import GetPeriodicTable

        table = GetPeriodicTable()
        symbols = [table.GetElementSymbol(int(z)) for z in self.numbers]
        counts = {s: symbols.count(s) for s in set(symbols)}
        order = (["C", "H"] if "C" in counts else []) + sorted(s for s in counts if s not in ("C", "H") or "C" not in counts)
        return "".join(f"{s}{counts[s] if counts[s] > 1 else ''}" for s in order)
