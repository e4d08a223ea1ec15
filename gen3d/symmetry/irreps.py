"""How O(3) acts on e3nn irreps objects (``1o`` vectors, ``1e`` pseudovectors, ``2e`` quadrupoles, ...).

e3nn's ``Irreps.D_from_matrix`` goes through Euler angles and loses ~1e-6 near the poles, which
cubic operations hit; here D_l is built exactly as ``D_{l-1} (x) D_1`` projected with e3nn's own
Wigner 3j symbols, so it follows e3nn's basis to machine precision.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from e3nn import o3
from scipy.linalg import block_diag


@lru_cache(maxsize=None)
def _coupling(l: int) -> np.ndarray:
    """``(2l+1, 3(2l-1))`` isometry (rows orthonormal) from ``l-1 (x) 1`` onto ``l``."""
    w = o3.wigner_3j(l - 1, 1, l, dtype=torch.float64).numpy().reshape(-1, 2 * l + 1).T
    return w / np.linalg.norm(w[0])


def wigner(l: int, rotation: np.ndarray) -> np.ndarray:
    """Real Wigner matrix D_l of a proper rotation in e3nn's basis (D_1 = the rotation in x, y, z)."""
    if l == 0:
        return np.ones((1, 1))
    if l == 1:
        return np.asarray(rotation, dtype=float)
    w = _coupling(l)
    return w @ np.kron(wigner(l - 1, rotation), rotation) @ w.T


def representation(irreps: str | o3.Irreps, ops: np.ndarray) -> np.ndarray:
    """``(g, d, d)`` float64 matrices D(g) of ``irreps`` for 3x3 orthogonal ``ops`` (parity p acts as p on improper g)."""
    irreps = o3.Irreps(irreps)
    out = []
    for g in np.asarray(ops, dtype=float).reshape(-1, 3, 3):
        det = 1.0 if np.linalg.det(g) > 0 else -1.0
        blocks = [wigner(ir.l, det * g) * (ir.p if det < 0 else 1) for mul, ir in irreps for _ in range(mul)]
        out.append(block_diag(*blocks))
    return np.stack(out)


def act(irreps: str | o3.Irreps, g: np.ndarray, elements: np.ndarray) -> np.ndarray:
    """``D(g) b`` for each row b of ``elements`` (``(m, d)``)."""
    return np.asarray(elements) @ representation(irreps, g)[0].T


def stabiliser(irreps: str | o3.Irreps, ops: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """The operations of ``ops`` that leave ``b`` unchanged: ``{g : |D(g) b - b| < tol |b|}``."""
    d = representation(irreps, ops)
    scale = max(float(np.linalg.norm(b)), 1e-12)
    keep = np.linalg.norm(d @ b - b, axis=-1) < tol * scale
    return ops[keep]


def generic_vector(dim: int) -> np.ndarray:
    """A fixed vector with no special direction (fractional parts of square roots of primes), centred."""
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71]
    return np.array([np.sqrt(p) % 1 for p in primes[:dim]]) - 0.5
