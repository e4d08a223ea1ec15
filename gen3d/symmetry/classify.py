"""Name a finite group of O(3) matrices (Schoenflies) and find the rotation to its standard frame."""

from __future__ import annotations

import itertools

import numpy as np

from gen3d.symmetry.errors import SymmetryError
from gen3d.symmetry.groups import point_group
from gen3d.symmetry.matrices import axis_angle, canonical_order, index_of, proper_part


def rotation_axes(ops: np.ndarray, tol: float = 1e-3) -> list[tuple[np.ndarray, int]]:
    """Distinct rotation axes of the proper operations with their orders n (C_n)."""
    axes: list[list] = []
    for g in ops:
        if np.linalg.det(g) < 0:
            continue
        axis, _ = axis_angle(g)
        if axis is None:
            continue
        for entry in axes:
            if abs(abs(entry[0] @ axis) - 1) < tol:
                entry[1] += 1
                break
        else:
            axes.append([axis, 2])  # the identity and this rotation
    return [(a, n) for a, n in axes]


def _mirror_normals(ops: np.ndarray) -> list[np.ndarray]:
    """Normals of the pure reflections (improper operations with trace 1)."""
    return [axis_angle(-g)[0] for g in ops if np.linalg.det(g) < 0 and abs(np.trace(g) - 1) < 1e-3]


def _axial_symbol(ops: np.ndarray, axes: list, tol: float) -> str:
    """Symbol of a group with at most one axis of order > 2."""
    has_inversion = index_of(-np.eye(3), ops, 1e-3) >= 0
    normals = _mirror_normals(ops)
    if not axes:
        return "C1" if len(ops) == 1 else ("Ci" if has_inversion else "Cs")
    principal, n = max(axes, key=lambda a: a[1])
    perpendicular = [a for a, m in axes if m == 2 and abs(a @ principal) < tol]
    sigma_h = any(abs(abs(v @ principal) - 1) < tol for v in normals)
    improper = any(np.linalg.det(g) < 0 for g in ops)
    if perpendicular:
        return f"D{n}h" if sigma_h else (f"D{n}d" if normals else f"D{n}")
    if sigma_h:
        return f"C{n}h"
    if normals:
        return f"C{n}v"
    return f"S{2 * n}" if improper else f"C{n}"


def classify(ops: np.ndarray, tol: float = 1e-3) -> str:
    """Schoenflies symbol of a finite group of 3x3 orthogonal matrices; SymmetryError if it is not one."""
    ops = np.asarray(ops, dtype=float)
    axes = rotation_axes(ops, tol)
    high = [n for _, n in axes if n > 2]
    if len(high) > 1:
        n = max(high)
        has_inversion = index_of(-np.eye(3), ops, 1e-3) >= 0
        improper = any(np.linalg.det(g) < 0 for g in ops)
        base = {3: "T", 4: "O", 5: "I"}.get(n, "?")
        symbol = base + ("h" if has_inversion else ("d" if improper else ""))
    else:
        symbol = _axial_symbol(ops, axes, tol)
    if "?" in symbol or len(point_group(symbol)) != len(ops):
        raise SymmetryError(f"the {len(ops)} operations found do not form a point group (try another tolerance)")
    return symbol


def _markers(std: np.ndarray) -> list[int]:
    """Indices of up to two operations of ``std`` whose (proper-part) axes are not parallel and fix the frame."""
    chosen: list[int] = []
    order = sorted(range(len(std)), key=lambda i: -_rotation_order(std[i]))
    for i in order:
        axis = axis_angle(proper_part(std[i]))[0]
        if axis is None:
            continue
        if not chosen or abs(abs(axis @ axis_angle(proper_part(std[chosen[0]]))[0]) - 1) > 1e-3:
            chosen.append(i)
        if len(chosen) == 2:
            break
    return chosen


def _rotation_order(g: np.ndarray) -> int:
    angle = axis_angle(proper_part(g))[1]
    return int(round(2 * np.pi / angle)) if angle > 1e-6 else 1


def _frame(u: np.ndarray, v: np.ndarray | None) -> np.ndarray:
    """Right-handed orthonormal frame (columns) whose first axis is ``u`` and whose xy plane holds ``v``."""
    u = u / np.linalg.norm(u)
    if v is None:
        v = np.eye(3)[np.argmin(np.abs(u))]
    w = v - (v @ u) * u
    w = w / np.linalg.norm(w)
    return np.stack([u, w, np.cross(u, w)], axis=1)


def _signature(g: np.ndarray) -> tuple[int, float]:
    return int(round(np.linalg.det(g))), round(float(np.trace(g)), 2)


def align(ops: np.ndarray, symbol: str, tol: float = 0.25) -> np.ndarray:
    """A proper rotation Q with ``Q std Q^T`` equal (within ``tol``) to ``ops``, std the standard-frame group.

    Q is unique up to the normaliser of the group; candidates are tried in a canonical order of
    ``ops`` so the answer depends only on the set of operations.
    """
    std, ops = point_group(symbol), canonical_order(np.asarray(ops, dtype=float))
    marks = _markers(std)
    if not marks:
        return np.eye(3)
    a = [axis_angle(proper_part(std[i]))[0] for i in marks]
    pools = [[g for g in ops if _signature(g) == _signature(std[i])] for i in marks]
    for images in itertools.product(*pools):
        b = [axis_angle(proper_part(h))[0] for h in images]
        if any(x is None for x in b):
            continue
        for signs in itertools.product((1.0, -1.0), repeat=len(b)):
            bs = [s * x for s, x in zip(signs, b)]
            if len(a) == 2 and abs(a[0] @ a[1] - bs[0] @ bs[1]) > tol:
                continue
            q = _frame(bs[0], bs[1] if len(bs) > 1 else None) @ _frame(a[0], a[1] if len(a) > 1 else None).T
            mapped = q @ std @ q.T
            if all(index_of(m, ops, tol) >= 0 for m in mapped):
                return q
    raise SymmetryError(f"could not align the operations with the standard frame of {symbol}")
