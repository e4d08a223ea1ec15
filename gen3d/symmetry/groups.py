"""Point groups in their standard frame, built from Schoenflies symbols.

Standard frame: the principal axis is z; Dn/Dnh/Dnd have a C2 axis along x; Cnv/Dnh have the
xz mirror plane; cubic groups have their C2/C4 axes along x, y, z and a C3 axis along (1, 1, 1);
I/Ih share the C2 axes of T. Cs mirrors through the xy plane (normal z).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from gen3d.symmetry.errors import SymmetryError
from gen3d.symmetry.matrices import closure, mirror, rotation

#: The 32 crystallographic point groups (Schoenflies), by crystal system.
CRYSTALLOGRAPHIC = (
    "C1", "Ci", "C2", "Cs", "C2h", "D2", "C2v", "D2h", "C4", "S4", "C4h", "D4", "C4v", "D2d", "D4h",
    "C3", "S6", "D3", "C3v", "D3d", "C6", "C3h", "C6h", "D6", "C6v", "D3h", "D6h", "T", "Th", "O", "Td", "Oh",
)
ALIASES = {"S2": "Ci", "C1h": "Cs", "C1v": "Cs", "D1": "C2", "C3i": "S6", "D1h": "C2v", "D1d": "C2h"}
PATTERN = re.compile(r"^(C|D|S)(\d+)(v|h|d|i)?$|^(T|O|I)(d|h)?$|^(Ci|Cs)$")

Z, X = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
SIGMA_H, SIGMA_V, INVERSION = mirror(Z), mirror([0.0, 1.0, 0.0]), -np.eye(3)
C3_111 = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
GOLDEN = (1 + 5**0.5) / 2


def normalise_symbol(symbol: str) -> str:
    """Canonical spelling of a Schoenflies symbol (``d3h`` -> ``D3h``, ``C3i`` -> ``S6``); SymmetryError if unknown."""
    text = str(symbol).strip()
    if not text:
        raise SymmetryError("empty point-group symbol")
    text = text[0].upper() + text[1:].lower()
    text = ALIASES.get(text, text)
    m = PATTERN.match(text)
    if not m:
        raise SymmetryError(f"unknown point group {symbol!r} (Schoenflies symbols such as C2v, D3h, Td, Oh)")
    if m.group(1):
        letter, n, suffix = m.group(1), int(m.group(2)), m.group(3) or ""
        if n < 1 or n > 60 or (letter == "S" and (suffix or n % 2)) or suffix == "i":
            raise SymmetryError(f"unknown point group {symbol!r}")
        if letter == "S" and n == 2:
            return "Ci"
        if (letter, n, suffix) == ("C", 1, "v") or (letter, n, suffix) == ("C", 1, "h"):
            return "Cs"
        return ALIASES.get(f"{letter}{n}{suffix}", f"{letter}{n}{suffix}")
    return text


def _generators(symbol: str) -> list[np.ndarray]:
    """Generators of a normalised symbol in the standard frame."""
    if symbol in ("C1", "Ci", "Cs"):
        return {"C1": [np.eye(3)], "Ci": [INVERSION], "Cs": [SIGMA_H]}[symbol]
    if symbol[0] in "TOI":
        base = [rotation(Z, np.pi), rotation(X, np.pi), C3_111]
        extra = {"T": [], "O": [rotation(Z, np.pi / 2)], "I": [rotation([0.0, 1.0, GOLDEN], 2 * np.pi / 5)]}[symbol[0]]
        improper = {"": [], "h": [INVERSION], "d": [mirror([1.0, -1.0, 0.0])]}[symbol[1:]]
        return base + extra + improper
    letter, n, suffix = symbol[0], int(re.findall(r"\d+", symbol)[0]), re.sub(r"^[CDS]\d+", "", symbol)
    if letter == "S":
        return [SIGMA_H @ rotation(Z, 2 * np.pi / n)]
    gens = [rotation(Z, 2 * np.pi / n)]
    if letter == "D":
        gens.append(rotation(X, np.pi))
    if suffix == "v":
        gens.append(SIGMA_V)
    elif suffix == "h":
        gens.append(SIGMA_H)
    elif suffix == "d":
        gens.append(SIGMA_H @ rotation(Z, np.pi / n))
    return gens


@lru_cache(maxsize=None)
def _cached(symbol: str) -> np.ndarray:
    ops = closure(_generators(symbol))
    ops.setflags(write=False)
    return ops


def point_group(symbol: str) -> np.ndarray:
    """All operations ``(g, 3, 3)`` of a point group in its standard frame, identity first."""
    return _cached(normalise_symbol(symbol)).copy()


def principal_order(symbol: str) -> int:
    """Order n of the principal rotation axis of an axial group (1 for C1, Ci, Cs; 0 for cubic/icosahedral)."""
    symbol = normalise_symbol(symbol)
    if symbol[0] in "TOI":
        return 0
    if symbol in ("C1", "Ci", "Cs"):
        return 1
    n = int(re.findall(r"\d+", symbol)[0])
    return n // 2 if symbol[0] == "S" else n
