"""Optimal rigid superposition (Kabsch) of matched point sets."""

from __future__ import annotations

import numpy as np


def kabsch(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``R`` and translation ``t`` minimising |mobile @ R.T + t - target| (proper rotation, det +1)."""
    mc, tc = mobile.mean(0), target.mean(0)
    h = (mobile - mc).T @ (target - tc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rot, tc - mc @ rot.T


def rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square deviation of matched points (no superposition)."""
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))
