"""Does a protein build as an Amber14 system in OpenMM? An independent check of atom names and chemistry.

The amino-acid residues are written as PDB, read back with OpenMM's own parser, protonated
with ``Modeller.addHydrogens`` and parameterised with ``ForceField('amber14-all.xml')``. This
fails on missing or extra heavy atoms, unknown residues and wrong atom names; a standard residue
missing heavy atoms is reported as such before OpenMM runs (OpenMM's own message would name the
template the remaining atoms happen to match). Ligands, ions and
waters are dropped first, and a C-terminal oxygen (OXT) missing at a chain end is added (most
generated and many deposited chains lack it, and Amber's terminal templates require it).
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import numpy as np

from gen3d.data.residues import SLOT_NAMES
from gen3d.metrics.protein_geometry import CA, C, O, atom_residues, backbone
from gen3d.structures.protein import Protein

OXT_BOND = 1.25  # Å, carboxylate C-O
FORCE_FIELD = "amber14-all.xml"


@functools.lru_cache(maxsize=1)
def _force_field():
    from openmm import app

    return app.ForceField(FORCE_FIELD)


def _select(protein: Protein, atoms: np.ndarray) -> Protein:
    """A new ``Protein`` of the given atoms (same order)."""
    return Protein(
        protein.chain_ids[atoms], protein.residue_numbers[atoms], protein.insertion_codes[atoms],
        protein.residue_names[atoms], protein.atom_names[atoms], protein.elements[atoms], protein.positions[atoms],
        None if protein.b_factors is None else protein.b_factors[atoms], protein.name,
    )


def amino_acids_with_oxt(protein: Protein) -> Protein:
    """The amino-acid residues of ``protein``; chain-final residues with C, CA, O but no OXT get one."""
    bb = backbone(protein)
    res = atom_residues(protein)
    protein = _select(protein, np.flatnonzero(np.isin(res, bb.residues)))
    bb, res = backbone(protein), atom_residues(protein)
    last = np.append(~bb.adjacent, True)
    has_oxt = np.isin(bb.residues, res[protein.atom_names == "OXT"])
    ends = np.flatnonzero(last & ~has_oxt & ~np.isnan(bb.coords[:, [CA, C, O], 0]).any(axis=1))
    if len(ends) == 0:
        return protein
    x = bb.coords[ends]
    u = (x[:, CA] - x[:, C]) / np.linalg.norm(x[:, CA] - x[:, C], axis=1, keepdims=True)
    v = (x[:, O] - x[:, C]) / np.linalg.norm(x[:, O] - x[:, C], axis=1, keepdims=True)
    w = -(u + v) / np.linalg.norm(u + v, axis=1, keepdims=True)  # in the CA-C-O plane, 120° from both bonds
    oxt = x[:, C] + OXT_BOND * w
    after = np.searchsorted(res, bb.residues[ends], side="right")  # insert after the residue's last atom
    first = after - 1
    columns = {
        "chain_ids": protein.chain_ids, "residue_numbers": protein.residue_numbers,
        "insertion_codes": protein.insertion_codes, "residue_names": protein.residue_names,
    }
    new = {k: np.insert(v, after, v[first]) for k, v in columns.items()}
    b_factors = None if protein.b_factors is None else np.insert(protein.b_factors, after, protein.b_factors[first])
    return Protein(
        **new, atom_names=np.insert(protein.atom_names, after, "OXT"), elements=np.insert(protein.elements, after, "O"),
        positions=np.insert(protein.positions, after, oxt, axis=0), b_factors=b_factors, name=protein.name,
    )


def _labels(protein: Protein) -> list[str]:
    """``"A 12 LYS"`` (chain, number + insertion code, name) for every residue, in order."""
    starts = protein.residue_starts()
    return [
        f"{protein.chain_ids[i]} {protein.residue_numbers[i]}{protein.insertion_codes[i]} {protein.residue_names[i]}"
        for i in starts
    ]


def missing_heavy_atoms(protein: Protein) -> str:
    """The first standard residue that lacks heavy atoms (e.g. ``"A 8 ARG lacks CD, NE"``), else ""."""
    starts = protein.residue_starts()
    stops = np.append(starts[1:], len(protein))
    for label, start, stop in zip(_labels(protein), starts, stops):
        expected = SLOT_NAMES.get(str(protein.residue_names[start]))
        if expected is None:
            continue
        missing = sorted(set(expected) - set(protein.atom_names[start:stop].tolist()), key=expected.index)
        if missing:
            return f"{label} lacks {', '.join(missing)}"
    return ""


def _reason(err: BaseException, labels: list[str]) -> str:
    """The first two sentences of an OpenMM error on one line, residue indices replaced by PDB labels."""
    text = " ".join(str(err).split()) or type(err).__name__
    text = re.sub(
        r"residue (\d+) \((\w+)\)", lambda m: labels[int(m[1])] if int(m[1]) < len(labels) else m[0], text,
    )
    return " ".join(re.split(r"(?<=\.)\s+", text)[:2])


def openmm_check(protein: Protein) -> str:
    """Empty if the protein's amino acids build as an Amber14 system in OpenMM, else the one-line reason."""
    from openmm import app

    from gen3d.io.pdb import write_protein

    protein = amino_acids_with_oxt(protein)
    if len(protein) == 0:
        return "no amino-acid residues"
    missing = missing_heavy_atoms(protein)
    if missing:
        return missing
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "protein.pdb"
            write_protein(path, protein)
            pdb = app.PDBFile(str(path))
        modeller = app.Modeller(pdb.topology, pdb.positions)
        modeller.addHydrogens(_force_field())
        _force_field().createSystem(modeller.topology, nonbondedMethod=app.NoCutoff)
    except Exception as err:  # noqa: BLE001 - any failure to build is the answer, not a crash
        return _reason(err, _labels(protein))
    return ""
