"""Ramachandran validation: phi/psi of every residue against favoured and allowed regions per residue class.

The regions are a coarse, box-shaped approximation of the MolProbity contours of Lovell et al.
(2003), Proteins 50, 437 (favoured ≈ their 98 % contour, allowed ≈ their 99.95 % contour), for
four classes: general, glycine (regions symmetric under phi, psi -> -phi, -psi), proline (cis and
trans together) and pre-proline (a non-Gly, non-Pro residue bonded to a following proline).
Each box is ``(phi_min, phi_max, psi_min, psi_max)`` in degrees, edges included. The boxes are
drawn wider than the contours where those are curved, so "allowed" errs on the generous side;
on 50 PDB chains (MDAnalysisTests' DSSP set, 6,760 scored residues) 99.6 % are allowed and
96.7 % favoured. Residues without both angles (chain ends, breaks, missing atoms) are not scored.
"""

from __future__ import annotations

import numpy as np

from gen3d.metrics.protein_geometry import Backbone, bonded, phi_psi

Box = tuple[float, float, float, float]
CLASSES = ("general", "glycine", "proline", "pre-proline")


def _mirror(boxes: tuple[Box, ...]) -> tuple[Box, ...]:
    """The boxes and their images under (phi, psi) -> (-phi, -psi)."""
    return boxes + tuple((-b, -a, -d, -c) for a, b, c, d in boxes)


FAVOURED: dict[str, tuple[Box, ...]] = {
    "general": (
        (-180, -45, 90, 180), (-180, -45, -180, -165),  # beta, polyproline II
        (-120, -35, -75, -5), (-140, -55, -5, 45),  # right-handed helix, bridge
        (40, 75, 10, 75),  # left-handed helix
    ),
    "glycine": _mirror(((-180, -45, 120, 180), (-180, -60, -180, -140), (-120, -45, -70, 45))),
    "proline": ((-95, -45, -65, 10), (-95, -45, 100, 180), (-95, -45, -180, -170)),
    "pre-proline": ((-180, -45, 100, 180), (-160, -100, 50, 100), (-100, -45, -65, -20)),
}
ALLOWED: dict[str, tuple[Box, ...]] = {
    "general": (
        (-180, -40, 50, 180), (-180, -40, -180, -150),  # extended
        (-150, -25, -90, 50), (-180, -150, -60, 50),  # helix and bridge
        (30, 100, -40, 100), (40, 100, -180, -110), (40, 100, 150, 180),  # left-handed side
    ),
    "glycine": _mirror(((-180, -40, -180, 180),)),
    "proline": ((-110, -35, -80, 180), (-110, -35, -180, -150)),
    "pre-proline": (
        (-180, -40, 40, 180), (-180, -40, -180, -150), (-140, -30, -75, 40), (40, 90, 20, 90),
    ),
}


def in_boxes(phi: np.ndarray, psi: np.ndarray, boxes: tuple[Box, ...]) -> np.ndarray:
    """(n,) bool: (phi, psi) lies in any of the boxes (NaN: False)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    phi, psi = np.asarray(phi, dtype=np.float64)[:, None], np.asarray(psi, dtype=np.float64)[:, None]
    inside = (phi >= b[:, 0]) & (phi <= b[:, 1]) & (psi >= b[:, 2]) & (psi <= b[:, 3])
    return inside.any(axis=1)


def residue_classes(bb: Backbone) -> np.ndarray:
    """(L,) class index into ``CLASSES`` (pre-proline only when the next residue is bonded)."""
    names = bb.residue_names
    before_pro = np.zeros(len(bb), dtype=bool)
    if len(bb) > 1:
        before_pro[:-1] = bonded(bb) & (names[1:] == "PRO")
    cls = np.where(before_pro, 3, 0)
    cls = np.where(names == "PRO", 2, cls)
    return np.where(names == "GLY", 1, cls)


def ramachandran(bb: Backbone) -> dict[str, np.ndarray]:
    """Per scored residue: ``phi``, ``psi`` (degrees), ``cls`` (index into ``CLASSES``), ``favoured``, ``allowed``."""
    phi, psi = phi_psi(bb)
    keep = ~np.isnan(phi) & ~np.isnan(psi)
    phi, psi, cls = phi[keep], psi[keep], residue_classes(bb)[keep]
    favoured = np.zeros(len(phi), dtype=bool)
    allowed = np.zeros(len(phi), dtype=bool)
    for k, name in enumerate(CLASSES):
        rows = cls == k
        favoured[rows] = in_boxes(phi[rows], psi[rows], FAVOURED[name])
        allowed[rows] = in_boxes(phi[rows], psi[rows], ALLOWED[name] + FAVOURED[name])
    return {"phi": phi, "psi": psi, "cls": cls, "favoured": favoured, "allowed": allowed}
