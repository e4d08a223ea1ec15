"""Conversions between ``Protein`` and Biopython ``Structure`` objects (one model, waters dropped)."""

from __future__ import annotations

import numpy as np
from Bio.PDB.Atom import Atom, DisorderedAtom
from Bio.PDB.Chain import Chain
from Bio.PDB.Model import Model
from Bio.PDB.PDBExceptions import PDBConstructionException
from Bio.PDB.Residue import DisorderedResidue, Residue
from Bio.PDB.Structure import Structure

from gen3d.structures.protein import Protein

WATER_NAMES = frozenset({"HOH", "WAT", "H2O", "DOD", "D2O", "TIP", "TIP3", "TIP4", "SPC", "SOL"})
POLYMER_NAMES = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL SEC PYL UNK "
    "A C G U I N DA DC DG DT DI DU DN".split()
)


def _first(entity: object) -> object:
    """The first alternative of a disordered residue or atom (first in file / first altloc), else itself."""
    if isinstance(entity, (DisorderedResidue, DisorderedAtom)):
        return entity.disordered_get_list()[0]
    return entity


def is_water(residue: Residue) -> bool:
    """Whether a Biopython residue is a water molecule."""
    return residue.id[0] == "W" or residue.get_resname().strip() in WATER_NAMES


def protein_from_structure(s: Structure, model_index: int = 0) -> Protein:
    """Flat per-atom arrays of model ``model_index`` of ``s``: every residue except waters, first altloc only.

    Chain ids and insertion codes are stripped (blank -> ""); elements are capitalised symbols (``"Fe"``).
    """
    models = list(s)
    if not -len(models) <= model_index < len(models):
        raise ValueError(f"structure has {len(models)} models; no model {model_index}")
    columns: dict[str, list] = {key: [] for key in ("chain", "number", "icode", "resname", "name", "element")}
    positions, b_factors = [], []
    for chain in models[model_index]:
        for residue in chain:
            residue = _first(residue)
            if is_water(residue):
                continue
            _, number, icode = residue.id
            for atom in residue:
                atom = _first(atom)
                columns["chain"].append(chain.id.strip())
                columns["number"].append(number)
                columns["icode"].append(icode.strip())
                columns["resname"].append(residue.get_resname().strip())
                columns["name"].append(atom.get_name().strip())
                columns["element"].append((atom.element or "").strip().capitalize())
                positions.append(atom.get_coord())
                b_factors.append(atom.get_bfactor())
    return Protein(
        chain_ids=np.array(columns["chain"], dtype=str),
        residue_numbers=np.array(columns["number"], dtype=np.int64),
        insertion_codes=np.array(columns["icode"], dtype=str),
        residue_names=np.array(columns["resname"], dtype=str),
        atom_names=np.array(columns["name"], dtype=str),
        elements=np.array(columns["element"], dtype=str),
        positions=np.array(positions, dtype=np.float64).reshape(-1, 3),
        b_factors=np.array(b_factors, dtype=np.float64),
        name=str(s.id),
    )


def _hetero_flag(resname: str, number: int, icode: str, chain: Chain) -> str:
    """``" "`` for polymer residues, ``"W"`` for water, ``"H_<name>"`` otherwise or when the id is taken."""
    flag = "W" if resname in WATER_NAMES else " " if resname in POLYMER_NAMES else f"H_{resname}"
    if (flag, number, icode) in chain and flag == " ":
        flag = f"H_{resname}"
    if (flag, number, icode) in chain:
        raise ValueError(f"chain {chain.id!r} has residue {number}{icode.strip()} twice (not consecutive)")
    return flag


def protein_to_structure(p: Protein) -> Structure:
    """A one-model Biopython ``Structure``; residues are the runs of equal (chain, number, insertion code)."""
    structure = Structure(p.name or "protein")
    model = Model(0, serial_num=1)
    structure.add(model)
    b_factors = p.b_factors if p.b_factors is not None else np.zeros(len(p))
    starts = list(p.residue_starts()) + [len(p)]
    for begin, end in zip(starts[:-1], starts[1:]):
        chain_id = str(p.chain_ids[begin]) or " "
        if chain_id not in model:
            model.add(Chain(chain_id))
        chain = model[chain_id]
        number, icode = int(p.residue_numbers[begin]), str(p.insertion_codes[begin]) or " "
        resname = str(p.residue_names[begin])
        residue = Residue((_hetero_flag(resname, number, icode, chain), number, icode), resname, "    ")
        chain.add(residue)
        for i in range(begin, end):
            name = str(p.atom_names[i])
            atom = Atom(
                name,
                np.array(p.positions[i], dtype=np.float64),
                float(b_factors[i]),
                1.0,
                " ",
                name,
                i + 1,
                element=str(p.elements[i]).upper(),
            )
            try:
                residue.add(atom)
            except PDBConstructionException as err:
                raise ValueError(f"residue {chain_id}{number}{icode.strip()}: {err}") from None
    return structure
