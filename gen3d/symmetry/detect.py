"""Point-group detection of a molecule or point cloud within a distance tolerance.

Candidate operations come from mapping two reference atoms (non-collinear with the centroid) onto
every pair of atoms of the same elements and distances; each candidate is refined on all atoms
(orthogonal Procrustes with the atom permutation it implies) and kept if every atom lands within
``tol`` of an atom of the same element. The kept set is named (:func:`classify`) and replaced by
the exact standard-frame group rotated into place, so the returned operations form a closed group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen3d.symmetry.classify import align, classify
from gen3d.symmetry.errors import SymmetryError
from gen3d.symmetry.groups import point_group
from gen3d.symmetry.matrices import index_of

DEFAULT_TOLERANCE = 0.3  # Å, as pymatgen's PointGroupAnalyzer
COINCIDENT = 0.1  # Å; closer atoms are an input error


@dataclass(frozen=True)
class PointGroup:
    """A detected point group: symbol, exact operations about ``centre``, and frames.

    ``frame`` is the proper rotation from the standard frame of :func:`point_group` to the input
    (columns: the symmetry axes, ``frame[:, 2]`` the principal axis), so ``operations ==
    frame @ point_group(symbol) @ frame.T``; ``principal_axes`` are the eigenvectors (columns) of the
    gyration tensor, smallest moment first.
    """

    symbol: str
    operations: np.ndarray
    frame: np.ndarray
    centre: np.ndarray
    principal_axes: np.ndarray

    @property
    def order(self) -> int:
        return len(self.operations)

    @property
    def linear(self) -> bool:
        return self.symbol in ("C*v", "D*h")


def check_points(positions: np.ndarray) -> np.ndarray:
    """``(n, 3)`` float positions; SymmetryError for fewer than 2 points, non-finite or coincident ones."""
    try:
        pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    except ValueError:
        raise SymmetryError("positions must be an (n, 3) array") from None
    if len(pos) < 2:
        raise SymmetryError(f"need at least 2 points to detect a point group, got {len(pos)}")
    if not np.isfinite(pos).all():
        raise SymmetryError("positions contain NaN or infinite values")
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(len(pos)) * 1e9
    i, j = np.unravel_index(np.argmin(d), d.shape)
    if d[i, j] < COINCIDENT:
        raise SymmetryError(f"atoms {min(i, j)} and {max(i, j)} coincide ({d[i, j]:.3f} Å apart)")
    return pos


def _permutation(rotated: np.ndarray, r: np.ndarray, numbers: np.ndarray, tol: float) -> np.ndarray | None:
    """Index of the atom each rotated atom lands on (same element, within tol), or None if any misses."""
    d = np.linalg.norm(rotated[:, None] - r[None], axis=-1)
    d[numbers[:, None] != numbers[None]] = np.inf
    perm = d.argmin(1)
    if d[np.arange(len(r)), perm].max() > tol or len(set(perm.tolist())) != len(r):
        return None
    return perm


def _procrustes(a: np.ndarray, b: np.ndarray, det: float) -> np.ndarray:
    """Orthogonal matrix of determinant ``det`` that best maps rows of ``a`` onto rows of ``b``."""
    u, _, vt = np.linalg.svd(b.T @ a)
    fix = np.diag([1.0, 1.0, det * np.linalg.det(u @ vt)])
    return u @ fix @ vt


def _frame(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    e1 = u / np.linalg.norm(u)
    e2 = v - (v @ e1) * e1
    e2 /= np.linalg.norm(e2)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def _references(r: np.ndarray, numbers: np.ndarray, tol: float) -> tuple[int, int, list[list[int]]]:
    """Two reference atoms (rarest classes, far from the centre, not collinear) and each atom's candidate images."""
    radius = np.linalg.norm(r, axis=1)
    classes = [[j for j in range(len(r)) if numbers[j] == numbers[i] and abs(radius[j] - radius[i]) < tol] for i in range(len(r))]
    off = [i for i in range(len(r)) if radius[i] > tol]
    if not off:
        raise SymmetryError(f"all points lie within the tolerance ({tol} Å) of their centroid")
    a = min(off, key=lambda i: (len(classes[i]), -radius[i]))
    lateral = [np.linalg.norm(np.cross(r[a], r[i])) / radius[a] for i in range(len(r))]
    pool = [i for i in off if lateral[i] > tol]
    if not pool:
        raise SymmetryError(f"the points are collinear within the tolerance ({tol} Å); use a smaller --tol")
    b = min(pool, key=lambda i: (len(classes[i]), -lateral[i]))
    return a, b, classes


def _operations(r: np.ndarray, numbers: np.ndarray, tol: float) -> list[np.ndarray]:
    """All orthogonal maps of the centred cloud onto itself within tol (refined by Procrustes)."""
    a, b, classes = _references(r, numbers, tol)
    source = _frame(r[a], r[b])
    found: list[np.ndarray] = []
    for a2 in classes[a]:
        for b2 in classes[b]:
            if a2 == b2 or abs(np.linalg.norm(r[a2] - r[b2]) - np.linalg.norm(r[a] - r[b])) > 2 * tol:
                continue
            target = _frame(r[a2], r[b2])
            for det in (1.0, -1.0):
                g = target @ np.diag([1.0, 1.0, det]) @ source.T
                perm = _permutation(r @ g.T, r, numbers, tol)
                if perm is None:
                    continue
                g = _procrustes(r, r[perm], det)
                if _permutation(r @ g.T, r, numbers, tol) is not None and (not found or index_of(g, np.stack(found), 0.1) < 0):
                    found.append(g)
    return found


def _linear(r: np.ndarray, numbers: np.ndarray, tol: float, centre: np.ndarray, axes: np.ndarray) -> PointGroup:
    """C*v or D*h for points on a line (their infinite groups are reported with the identity only)."""
    symmetric = _permutation(-r, r, numbers, tol) is not None
    return PointGroup("D*h" if symmetric else "C*v", np.eye(3)[None], axes, centre, axes)


def detect_point_group(positions: np.ndarray, numbers: np.ndarray | None = None, tol: float = DEFAULT_TOLERANCE) -> PointGroup:
    """Point group of atoms (``numbers``: element per point, default all alike) about their centroid."""
    if not tol > 0:
        raise SymmetryError(f"tolerance must be positive, got {tol}")
    pos = check_points(positions)
    numbers = np.zeros(len(pos), dtype=int) if numbers is None else np.asarray(numbers).reshape(-1)
    if len(numbers) != len(pos):
        raise SymmetryError(f"{len(numbers)} elements for {len(pos)} points")
    centre = pos.mean(0)
    r = pos - centre
    moments, axes = np.linalg.eigh(r.T @ r / len(r))
    axes = axes * np.sign(np.linalg.det(axes))
    if np.sqrt(moments[1]) < tol / 3:
        return _linear(r, numbers, tol, centre, axes)
    ops = _operations(r, numbers, tol)
    symbol = classify(np.stack(ops), tol=0.05)
    frame = align(np.stack(ops), symbol)
    exact = frame @ point_group(symbol) @ frame.T
    return PointGroup(symbol, exact, frame, centre, axes)


def detect_molecule(molecule, tol: float = DEFAULT_TOLERANCE) -> PointGroup:
    """:func:`detect_point_group` of a :class:`~gen3d.structures.Molecule` (elements distinguish atoms)."""
    return detect_point_group(molecule.positions, molecule.numbers, tol)
