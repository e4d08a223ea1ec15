"""Protein structure files in, metrics report out: expand folders, read, score (and plot) for ``proteins evaluate``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gen3d.data.protein_corpus import structure_files
from gen3d.io.errors import InputError
from gen3d.io.pdb import read_protein
from gen3d.metrics.protein_geometry import backbone
from gen3d.metrics.protein_similarity import require_tmtools
from gen3d.metrics.proteins import Progress, evaluate_proteins
from gen3d.structures.protein import Protein


def structure_paths(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The given structure files, and the .pdb/.cif(.gz) files inside given folders, in order."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(structure_files(path))
        elif path.exists():
            out.append(path)
        else:
            raise InputError(path, "no such file or folder")
    if not out:
        raise InputError("no structure files given")
    return out


def read_structure(path: str | os.PathLike) -> Protein:
    """One structure file as a ``Protein``; a file without amino-acid residues is an ``InputError``."""
    protein = read_protein(path)
    if len(backbone(protein)) == 0:
        raise InputError(path, "no protein residues (no amino acid with a CA atom)")
    return protein


def read_proteins(paths: Sequence[str | os.PathLike]) -> list[Protein]:
    """Every structure of :func:`structure_paths` (files, and the structure files inside folders)."""
    return [read_structure(path) for path in structure_paths(paths)]


def evaluate_protein_files(
    paths: Sequence[str | os.PathLike],
    reference: Sequence[str | os.PathLike] | None = None,
    tm: bool = True,
    openmm: bool = False,
    plots: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> dict:
    """Read structure files or folders (and a reference set), score them with :func:`evaluate_proteins`.

    ``plots`` names a folder for the Ramachandran and Rg figures (reference set drawn alongside).
    """
    if tm:
        require_tmtools()  # fail before the slow work
    files = structure_paths(paths)
    proteins = [read_structure(path) for path in files]
    ref = read_proteins(reference) if reference else None
    report = evaluate_proteins(proteins, reference=ref, tm=tm, openmm=openmm, progress=progress)
    for item, path in zip(report["per_item"], files):
        item["file"] = str(path)
    if plots is not None:
        from gen3d.metrics.protein_plots import write_plots

        write_plots(plots, proteins, ref)
    return report
