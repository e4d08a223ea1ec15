"""Small symmetric molecules and shapes (Å) for the symmetry tests."""

import numpy as np

from gen3d.symmetry.shapes import benzene, methane, triangular_prism

WATER = ([8, 1, 1], [[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]])
AMMONIA = ([7, 1, 1, 1], [[0, 0, 0.116], [0.939, 0, -0.271], [-0.470, 0.813, -0.271], [-0.470, -0.813, -0.271]])
SF6 = ([16] + [9] * 6, [[0, 0, 0], [1.56, 0, 0], [-1.56, 0, 0], [0, 1.56, 0], [0, -1.56, 0], [0, 0, 1.56], [0, 0, -1.56]])


def ethane_staggered():
    """C2H6 in the staggered (D3d) conformation."""
    c = [[0, 0, 0.765], [0, 0, -0.765]]
    top = [[1.02 * np.cos(a), 1.02 * np.sin(a), 1.16] for a in np.radians([0, 120, 240])]
    bottom = [[1.02 * np.cos(a), 1.02 * np.sin(a), -1.16] for a in np.radians([60, 180, 300])]
    return [6, 6] + [1] * 6, c + top + bottom


def allene():
    """H2C=C=CH2 (D2d): the two CH2 planes are perpendicular."""
    c = [[0, 0, 0], [0, 0, 1.31], [0, 0, -1.31]]
    h = [[0.93, 0, 1.87], [-0.93, 0, 1.87], [0, 0.93, -1.87], [0, -0.93, -1.87]]
    return [6, 6, 6, 1, 1, 1, 1], c + h


def bromochlorofluoromethane():
    """CHFClBr: no symmetry (C1)."""
    return [6, 1, 9, 17, 35], [[0, 0, 0], [0, 0, 1.09], [1.33, 0, -0.45], [-0.83, 1.44, -0.6], [-0.95, -1.6, -0.65]]


def molecules():
    """``{name: (numbers, positions, expected group)}`` for the detection acceptance test."""
    cases = {
        "water": (*WATER, "C2v"), "ammonia": (*AMMONIA, "C3v"), "methane": (*methane(), "Td"),
        "benzene": (*benzene(), "D6h"), "SF6": (*SF6, "Oh"), "ethane": (*ethane_staggered(), "D3d"),
        "prism": (*triangular_prism(), "D3h"), "allene": (*allene(), "D2d"), "CHFClBr": (*bromochlorofluoromethane(), "C1"),
    }
    return {k: (np.array(z), np.array(p, dtype=float), g) for k, (z, p, g) in cases.items()}
