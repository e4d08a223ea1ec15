"""The normaliser N(S) of a point group S inside O(3), computed numerically in S's standard frame.

Method: every finite subgroup of O(3) that normalises a point group in its standard frame lies in
Oh, Ih or D_{2n}h (n the principal order; D24h covers every crystallographic axial case), so N(S)
is the set of candidates c from their union with ``c S c^T = S``. It is infinite when a rotation
about z by an irrational angle normalises S (all rotations about the principal axis: the axial
groups Cn, Cnh, S2n and Cs, whose normaliser is D*h) or when a generic rotation does (C1, Ci:
all of O(3)). For the axial case the finite part reported is D_{2n}h, which with the rotations
about z generates D*h.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gen3d.symmetry.classify import classify
from gen3d.symmetry.groups import normalise_symbol, point_group, principal_order
from gen3d.symmetry.matrices import canonical_order, index_of, rotation, same_set


@dataclass(frozen=True)
class Normaliser:
    """N(S): ``ops`` its finite part; ``continuous`` None, ``"axis"`` (all rotations about z) or ``"all"`` (O(3))."""

    symbol: str
    ops: np.ndarray
    continuous: str | None

    @property
    def finite(self) -> bool:
        return self.continuous is None


def _normalises(c: np.ndarray, group: np.ndarray) -> bool:
    return same_set(c @ group @ c.T, group, 1e-8)


def _candidates(n: int) -> np.ndarray:
    pool = [point_group("Oh"), point_group("Ih"), point_group("D24h"), point_group(f"D{2 * max(n, 1)}h")]
    out: list[np.ndarray] = []
    for g in np.concatenate(pool):
        if not out or index_of(g, np.stack(out), 1e-8) < 0:
            out.append(g)
    return np.stack(out)


@lru_cache(maxsize=None)
def normaliser(symbol: str) -> Normaliser:
    """N(S) of the standard-frame group ``symbol`` in O(3)."""
    symbol = normalise_symbol(symbol)
    group = point_group(symbol)
    if _normalises(rotation([0.3, 0.5, 0.8], 1.0), group):
        return Normaliser("O(3)", point_group("Oh"), "all")
    n = principal_order(symbol)
    if _normalises(rotation([0.0, 0.0, 1.0], 1.0), group):
        return Normaliser("D*h", point_group(f"D{2 * n}h"), "axis")
    ops = canonical_order(np.stack([c for c in _candidates(n) if _normalises(c, group)]))
    return Normaliser(classify(ops), ops, None)
