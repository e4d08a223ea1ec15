"""Plain-dict summaries of detected groups and breaking sets (what the CLI prints and writes as JSON)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gen3d.symmetry.classify import classify
from gen3d.symmetry.detect import DEFAULT_TOLERANCE, PointGroup, detect_molecule
from gen3d.symmetry.groups import CRYSTALLOGRAPHIC, normalise_symbol, point_group
from gen3d.symmetry.irreps import representation
from gen3d.symmetry.normaliser import normaliser
from gen3d.symmetry.sets import BreakingSet, breaking_set, breaking_set_for


def _rounded(a: np.ndarray, digits: int = 6) -> list:
    return (np.round(np.asarray(a, dtype=float), digits) + 0.0).tolist()


def describe_group(name: str, pg: PointGroup) -> dict:
    """Symbol, order, axes and operations of one detected group."""
    return {
        "name": name, "group": pg.symbol, "order": pg.order, "centre": _rounded(pg.centre, 4),
        "principal_axis": _rounded(pg.frame[:, 2]), "frame": _rounded(pg.frame), "principal_axes": _rounded(pg.principal_axes),
        "operations": _rounded(pg.operations),
    }


def detect_file(path: str | Path, tol: float = DEFAULT_TOLERANCE) -> list[dict]:
    """Point group of every molecule in an XYZ/SDF file."""
    from gen3d.io.molecules import read_molecules

    mols = read_molecules(path)
    return [describe_group(mol.name or f"{Path(path).name}#{i}", detect_molecule(mol, tol)) for i, mol in enumerate(mols)]


def _closed(bset: BreakingSet, ops: np.ndarray) -> bool:
    for d in representation(bset.irreps, ops):
        moved = bset.elements @ d.T
        if any(np.abs(bset.elements - m).max(-1).min() > 1e-6 for m in moved):
            return False
    return True


def describe_set(bset: BreakingSet, ops: np.ndarray, norm_ops: np.ndarray | None) -> dict:
    """Properties of a set: sizes, stabilisers of its elements in S, closure under S and N(S), elements."""
    d = representation(bset.irreps, ops)
    stabilisers = sorted({classify(ops[np.linalg.norm(d @ b - b, axis=-1) < 1e-8]) for b in bset.elements})
    return {
        "group": bset.group, "target": bset.target, "normaliser": bset.normaliser, "irreps": bset.irreps,
        "size": len(bset.elements) if bset.continuous is None else "infinite", "ideal": bset.ideal,
        "continuous": bset.continuous, "axis": _rounded(bset.axis), "stabilisers": stabilisers,
        "closed_under_group": _closed(bset, ops),
        "closed_under_normaliser": None if norm_ops is None else _closed(bset, norm_ops),
        "elements": _rounded(bset.elements),
    }


def set_for(group_or_file: str, target: str = "C1", tol: float = DEFAULT_TOLERANCE) -> dict:
    """The breaking set of a group symbol (standard frame) or of the first molecule in a file (its frame)."""
    path = Path(group_or_file)
    if path.suffix or path.exists():
        from gen3d.io.molecules import read_molecules

        mols = read_molecules(path)
        if not mols:
            raise FileNotFoundError(f"{path}: no molecules")
        pg = detect_molecule(mols[0], tol)
        bset = breaking_set_for(pg, target)
        norm = normaliser(pg.symbol)
        norm_ops = pg.frame @ norm.ops @ pg.frame.T if norm.finite else None
        return {"source": str(path), **describe_set(bset, pg.operations, norm_ops)}
    symbol = normalise_symbol(group_or_file)
    bset, norm = breaking_set(symbol, target), normaliser(symbol)
    return {"source": "standard frame", **describe_set(bset, point_group(symbol), norm.ops if norm.finite else None)}


FALLBACK = "continuous orbit about the principal axis, sampled uniformly (or --target for a finite partial set)"


def table_rows(groups: tuple[str, ...] = CRYSTALLOGRAPHIC) -> list[dict]:
    """The breaking-set table of the 32 crystallographic point groups."""
    rows = []
    for symbol in groups:
        bset, norm = breaking_set(symbol), normaliser(symbol)
        note = "nothing to break" if symbol == "C1" else ("sphere of unit vectors, sampled uniformly" if symbol == "Ci" else "")
        if bset.continuous == "axis":
            note = FALLBACK
        rows.append({
            "group": symbol, "order": len(point_group(symbol)), "normaliser": norm.symbol,
            "normaliser_order": len(norm.ops) if norm.finite else "infinite", "ideal": bset.ideal and bset.continuous is None,
            "irreps": bset.irreps, "size": len(bset.elements) if bset.continuous is None else "infinite", "fallback": note,
        })
    return rows
