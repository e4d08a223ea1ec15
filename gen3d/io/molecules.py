"""Molecule files by extension (.xyz, .sdf, .mol, each optionally .gz) and a streaming, all-or-nothing writer."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from gen3d.io.errors import InputError, atomic_output, base_suffix
from gen3d.io.sdf import format_mol_block, format_sdf, read_sdf
from gen3d.io.xyz import format_xyz, read_xyz
from gen3d.structures.molecule import Molecule

FORMATTERS: dict[str, Callable[[Molecule], str]] = {
    ".xyz": format_xyz,
    ".sdf": format_sdf,
    ".mol": format_mol_block,
}
READERS: dict[str, Callable[[str | os.PathLike], list[Molecule]]] = {
    ".xyz": read_xyz,
    ".sdf": read_sdf,
    ".mol": read_sdf,
}


def molecule_format(path: str | os.PathLike) -> str:
    """``.xyz``, ``.sdf`` or ``.mol`` from the name of ``path``; ``InputError`` for anything else."""
    suffix = base_suffix(path)
    if suffix not in FORMATTERS:
        found = suffix or "(no extension)"
        raise InputError(path, f"unknown molecule format {found!r}; use .xyz, .sdf or .mol (+ .gz)")
    return suffix


def read_molecules(path: str | os.PathLike) -> list[Molecule]:
    """All molecules in an XYZ, SDF or MOL file (optionally gzipped), chosen by extension."""
    return READERS[molecule_format(path)](path)


def write_molecules(path: str | os.PathLike, mols: Iterable[Molecule]) -> int:
    """Write ``mols`` to an XYZ, SDF or MOL file chosen by extension, atomically; returns how many."""
    with MoleculeWriter(path) as writer:
        for mol in mols:
            writer.write(mol)
    return writer.count


class MoleculeWriter:
    """Append molecules one by one to a temporary file that replaces ``path`` only on a clean ``close()``.

    Use as a context manager: leaving the block by an exception (or calling ``abort()``) discards
    everything, so ``path`` either keeps its old content or does not appear at all.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.format = molecule_format(path)
        self.count = 0
        self._format = FORMATTERS[self.format]
        self._output: contextlib.AbstractContextManager[BinaryIO] | None = atomic_output(self.path)
        self._handle = self._output.__enter__()

    @property
    def closed(self) -> bool:
        """Whether the file was already committed or discarded."""
        return self._output is None

    def write(self, mol: Molecule) -> None:
        """Append one molecule (a ``.mol`` file holds exactly one)."""
        if self._output is None:
            raise ValueError(f"{self.path}: writer is closed")
        if self.format == ".mol" and self.count:
            raise InputError(self.path, "a .mol file holds one molecule; use .sdf for several")
        self._handle.write(self._format(mol).encode("utf-8"))
        self.count += 1

    def close(self) -> None:
        """Finish the file and move it into place (no-op if already closed)."""
        output, self._output = self._output, None
        if output is not None:
            output.__exit__(None, None, None)

    def abort(self) -> None:
        """Discard everything written; ``path`` is left as it was (no-op if already closed)."""
        output, self._output = self._output, None
        if output is not None:
            error = RuntimeError("molecule writing aborted")
            output.__exit__(RuntimeError, error, None)

    def __enter__(self) -> MoleculeWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            output, self._output = self._output, None
            if output is not None:
                output.__exit__(exc_type, exc, tb)
