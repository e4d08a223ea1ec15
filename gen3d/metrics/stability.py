"""EDM atom and molecule stability: bond orders from interatomic distances, then valence checks.

Following Hoogeboom et al. (2022, "Equivariant Diffusion for Molecule Generation in 3D"): a
pair of atoms closer than the typical single-bond length plus 10 pm is bonded; if it is also
closer than the double-bond length plus 5 pm the bond is double, and closer than the
triple-bond length plus 3 pm triple. An atom is stable when the sum of its bond orders equals
its valence (H 1, C 4, N 3, O 2, F 1); a molecule is stable when all its atoms are. The lengths
(pm) are standard tabulated covalent bond lengths for H C N O F.
"""

from __future__ import annotations

import numpy as np

MARGINS_PM = (10.0, 5.0, 3.0)  # single, double, triple
VALENCE = {1: 1, 6: 4, 7: 3, 8: 2, 9: 1}

_SINGLE = {
    (1, 1): 74, (1, 6): 109, (1, 7): 101, (1, 8): 96, (1, 9): 92,
    (6, 6): 154, (6, 7): 147, (6, 8): 143, (6, 9): 135,
    (7, 7): 145, (7, 8): 140, (7, 9): 136,
    (8, 8): 148, (8, 9): 142,
    (9, 9): 142,
}
_DOUBLE = {(6, 6): 134, (6, 7): 129, (6, 8): 120, (7, 7): 125, (7, 8): 121, (8, 8): 121}
_TRIPLE = {(6, 6): 120, (6, 7): 116, (6, 8): 113, (7, 7): 110}

_MAX_Z = 10


def _threshold_table(lengths: dict[tuple[int, int], float], margin: float) -> np.ndarray:
    """Symmetric (Z, Z) table of distance thresholds in Å; -inf where no such bond exists."""
    table = np.full((_MAX_Z, _MAX_Z), -np.inf)
    for (a, b), pm in lengths.items():
        table[a, b] = table[b, a] = (pm + margin) / 100.0
    return table


THRESHOLDS = np.stack([_threshold_table(t, m) for t, m in zip((_SINGLE, _DOUBLE, _TRIPLE), MARGINS_PM)])
VALENCE_TABLE = np.full(_MAX_Z, -1)
for _z, _v in VALENCE.items():
    VALENCE_TABLE[_z] = _v


def edm_bond_orders(numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n, n) bond orders 0-3 from distances (nested thresholds, as in EDM); elements beyond F get 0."""
    z = np.asarray(numbers, dtype=np.int64).reshape(-1)
    x = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    known = (z > 0) & (z < _MAX_Z)
    zc = np.where(known, z, 0)
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    t1, t2, t3 = (t[zc[:, None], zc[None, :]] for t in THRESHOLDS)
    single, double, triple = dist < t1, dist < t2, dist < t3
    order = np.where(single, np.where(double, np.where(triple, 3, 2), 1), 0)
    order[np.diag_indices(len(z))] = 0
    order[~known, :] = 0
    order[:, ~known] = 0
    return order


def atom_stability(numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n,) bool: the atom's summed EDM bond orders equal its valence (unknown elements: False)."""
    z = np.asarray(numbers, dtype=np.int64).reshape(-1)
    if len(z) == 0:
        return np.zeros(0, dtype=bool)
    valence = np.where((z > 0) & (z < _MAX_Z), VALENCE_TABLE[np.clip(z, 0, _MAX_Z - 1)], -1)
    return edm_bond_orders(z, positions).sum(1) == valence
