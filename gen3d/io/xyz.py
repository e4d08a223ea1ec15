"""Multi-frame XYZ files: atom count, comment line (the molecule's name), then ``element x y z`` lines."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from gen3d.io.errors import InputError, parse_coordinate, read_text, write_text
from gen3d.structures.molecule import Molecule
from gen3d.structures.rdkit import atomic_number, element_symbol


def format_xyz(mol: Molecule) -> str:
    """One XYZ frame of ``mol``; the name becomes the comment line (newlines turned into spaces)."""
    comment = " ".join(mol.name.splitlines())
    lines = [str(len(mol)), comment]
    for z, (x, y, w) in zip(mol.numbers, mol.positions):
        lines.append(f"{element_symbol(int(z)):<2} {x:15.8f} {y:15.8f} {w:15.8f}")
    return "\n".join(lines) + "\n"


def _element(token: str, path: str | os.PathLike, line: int) -> int:
    """Atomic number from an element symbol or a plain atomic number."""
    try:
        z = int(token) if token.isdigit() else atomic_number(token)
        element_symbol(z)
    except (KeyError, ValueError):
        raise InputError(path, f"unknown element {token!r}", line) from None
    return z


def _count(text: str) -> int | None:
    """The atom count on a count line, or None if the line is not one non-negative integer."""
    tokens = text.split()
    return int(tokens[0]) if len(tokens) == 1 and tokens[0].isdigit() else None


def parse_xyz(text: str, path: str | os.PathLike = "<string>") -> list[Molecule]:
    """Parse every frame of XYZ ``text``; any inconsistency is an ``InputError`` naming ``path`` and the line."""
    lines = text.split("\n")
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    mols: list[Molecule] = []
    i = 0
    while i < end:
        if not lines[i].strip():  # tolerate blank lines between frames
            i += 1
            continue
        count = _count(lines[i])
        if count is None:
            hint = " (more atom lines than the previous frame declared?)" if mols else ""
            raise InputError(path, f"expected an atom count, found {lines[i].strip()[:40]!r}{hint}", i + 1)
        if i + 1 >= len(lines):
            raise InputError(path, f"frame {len(mols) + 1} has no comment line", i + 1)
        name = lines[i + 1].strip()
        numbers: list[int] = []  # grown line by line: a lying count must not allocate
        positions: list[list[float]] = []
        for k in range(count):
            j = i + 2 + k
            if j >= end:
                raise InputError(
                    path, f"file ends after {k} of the {count} atoms frame {len(mols) + 1} declares", j + 1
                )
            tokens = lines[j].split()
            if len(tokens) < 4:
                hint = " (fewer atom lines than declared?)" if _count(lines[j]) is not None else ""
                found = lines[j].strip()[:40]
                reason = f"expected 'element x y z' for atom {k + 1} of {count}, found {found!r}{hint}"
                raise InputError(path, reason, j + 1)
            numbers.append(_element(tokens[0], path, j + 1))
            positions.append([parse_coordinate(t, path, j + 1) for t in tokens[1:4]])
        positions_array = np.array(positions, dtype=np.float64).reshape(-1, 3)
        mols.append(Molecule(numbers=np.array(numbers, dtype=np.int64), positions=positions_array, name=name))
        i += 2 + count
    if not mols:
        raise InputError(path, "no XYZ frames")
    return mols


def read_xyz(path: str | os.PathLike) -> list[Molecule]:
    """Every frame of a (optionally gzipped) XYZ file, each comment line kept as the molecule's name."""
    return parse_xyz(read_text(path), path)


def write_xyz(path: str | os.PathLike, mols: Iterable[Molecule]) -> None:
    """Write ``mols`` as one multi-frame XYZ file, atomically (gzipped for ``.gz``); XYZ keeps no bonds or charges."""
    write_text(path, "".join(format_xyz(m) for m in mols))
