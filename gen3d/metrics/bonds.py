"""Bond lengths by bond type (elements + order) and their 1-Wasserstein distances to a reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F", 15: "P", 16: "S", 17: "Cl", 35: "Br", 53: "I"}
_ELEMENT_ORDER = {"C": 0, "N": 1, "O": 2, "F": 3, "H": 9}  # C first, H last: "C-H", "C=O", "N-H"
ORDER_SYMBOLS = {1: "-", 2: "=", 3: "#", 4: ":"}
MIN_REFERENCE_FRACTION = 0.005  # a bond type is "common" when it is this share of reference bonds


def bond_type(z1: int, z2: int, order: int) -> str:
    """Canonical name of a bond type, e.g. ``C-H``, ``C=O``, ``C#N``, ``C:C`` (aromatic)."""
    a, b = (SYMBOLS.get(int(z), f"Z{int(z)}") for z in (z1, z2))
    a, b = sorted((a, b), key=lambda s: (_ELEMENT_ORDER.get(s, 5), s))
    return f"{a}{ORDER_SYMBOLS.get(int(order), '?')}{b}"


def bond_lengths(
    numbers: np.ndarray, positions: np.ndarray, bonds: np.ndarray, aromatic: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Lengths (Å) of the given bonds grouped by type; aromatic bonds are typed ``:``."""
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 3)
    if len(bonds) == 0:
        return {}
    i, j, order = bonds.T
    if aromatic is not None:
        order = np.where(np.asarray(aromatic, dtype=bool), 4, order)
    lengths = np.linalg.norm(positions[i] - positions[j], axis=1)
    out: dict[str, list[float]] = defaultdict(list)
    for a, b, k, d in zip(numbers[i], numbers[j], order, lengths):
        out[bond_type(a, b, k)].append(float(d))
    return {k: np.asarray(v) for k, v in out.items()}


def merge_lengths(parts: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-molecule bond-length dictionaries."""
    acc: dict[str, list[np.ndarray]] = defaultdict(list)
    for part in parts:
        for key, values in part.items():
            acc[key].append(values)
    return {k: np.concatenate(v) for k, v in sorted(acc.items())}


def common_types(reference: dict[str, np.ndarray], min_fraction: float = MIN_REFERENCE_FRACTION) -> list[str]:
    """Reference bond types frequent enough to compare, most frequent first."""
    total = sum(len(v) for v in reference.values())
    keep = [k for k, v in reference.items() if total and len(v) / total >= min_fraction]
    return sorted(keep, key=lambda k: -len(reference[k]))


def bond_length_distances(
    generated: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> tuple[dict[str, float | None], float | None]:
    """W1 (Å) per common reference bond type and their mean weighted by generated bond counts.

    A type absent from the generated bonds gets ``None`` and no weight; the mean is ``None``
    when no common type was generated at all.
    """
    from scipy.stats import wasserstein_distance  # imported here: SciPy is slow to import in workers

    per_type: dict[str, float | None] = {}
    weights, values = [], []
    for key in common_types(reference):
        gen = generated.get(key)
        if gen is None or len(gen) == 0:
            per_type[key] = None
            continue
        w1 = float(wasserstein_distance(gen, reference[key]))
        per_type[key] = w1
        weights.append(len(gen))
        values.append(w1)
    mean = float(np.average(values, weights=weights)) if values else None
    return per_type, mean
