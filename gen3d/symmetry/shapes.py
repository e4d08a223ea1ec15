"""Symmetric structures used by the toy experiments and as seeds (positions in Å, elements by Z)."""

from __future__ import annotations

import numpy as np


def triangular_prism(radius: float = 1.0, height: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """Six points of a right triangular prism (D3h), all of element 6."""
    angles = np.radians([90.0, 210.0, 330.0])
    ring = np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1)
    pos = np.concatenate([np.c_[ring, np.full(3, height / 2)], np.c_[ring, np.full(3, -height / 2)]])
    return np.full(6, 6), pos


def cube(edge: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Eight cube vertices (Oh)."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    return np.full(8, 6), corners * edge / 2


def square(edge: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Four corners of a square in the xy plane (D4h)."""
    corners = np.array([[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=float)
    return np.full(4, 6), corners * edge / 2


def barium_titanate(a: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Cubic perovskite BaTiO3 as a cluster (Oh): Ti at the centre, 6 O on the faces, 8 Ba on the corners."""
    o = np.concatenate([np.eye(3), -np.eye(3)]) * a / 2
    ba = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) * a / 2
    numbers = np.array([22] + [8] * 6 + [56] * 8)
    return numbers, np.concatenate([np.zeros((1, 3)), o, ba])


def methane(bond: float = 1.09) -> tuple[np.ndarray, np.ndarray]:
    """CH4 (Td)."""
    h = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3) * bond
    return np.array([6, 1, 1, 1, 1]), np.concatenate([np.zeros((1, 3)), h])


def benzene(cc: float = 1.39, ch: float = 1.09) -> tuple[np.ndarray, np.ndarray]:
    """C6H6 (D6h) in the xy plane."""
    angles = np.radians(np.arange(6) * 60.0)
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(6)], 1)
    return np.array([6] * 6 + [1] * 6), np.concatenate([ring * cc, ring * (cc + ch)])
