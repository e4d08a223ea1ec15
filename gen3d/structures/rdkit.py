"""Conversions between ``Molecule`` and RDKit molecules, and the element table readers check symbols with."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D

from gen3d.structures.molecule import Molecule

BOND_TYPES = {
    1: Chem.BondType.SINGLE,
    2: Chem.BondType.DOUBLE,
    3: Chem.BondType.TRIPLE,
    4: Chem.BondType.AROMATIC,
}
BOND_ORDERS = {bond_type: order for order, bond_type in BOND_TYPES.items()}
MAX_ATOMIC_NUMBER = 118
HYDROGEN_ISOTOPES = {"D": 1, "T": 1}


@lru_cache(maxsize=1)
def _symbols() -> tuple[str, ...]:
    """Element symbols indexed by atomic number (index 0 unused), from RDKit's periodic table."""
    table = Chem.GetPeriodicTable()
    return ("",) + tuple(table.GetElementSymbol(z) for z in range(1, MAX_ATOMIC_NUMBER + 1))


@lru_cache(maxsize=1)
def _numbers() -> dict[str, int]:
    """Atomic number by upper-case symbol, including D and T as hydrogen."""
    out = {symbol.upper(): z for z, symbol in enumerate(_symbols()) if z}
    out.update(HYDROGEN_ISOTOPES)
    return out


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol, any case (``"CL"`` -> 17); ``KeyError`` if it is no element."""
    return _numbers()[symbol.strip().upper()]


def element_symbol(z: int) -> str:
    """Symbol of atomic number ``z`` (1..118); ``ValueError`` otherwise."""
    if not 1 <= int(z) <= MAX_ATOMIC_NUMBER:
        raise ValueError(f"no element has atomic number {z}")
    return _symbols()[int(z)]


def parse_property(text: str) -> object:
    """A text property (SD tag) as bool / int / float when ``str()`` of that value gives back exactly ``text``."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if str(value) == text:
            return value
    return text


def _set_property(m: Chem.Mol, key: str, value: object) -> None:
    """Store one ``Molecule.properties`` entry on an RDKit molecule, typed where RDKit has the type."""
    if isinstance(value, (bool, np.bool_)):
        m.SetBoolProp(key, bool(value))
    elif isinstance(value, (int, np.integer)) and -(2**31) <= int(value) < 2**31:
        m.SetIntProp(key, int(value))
    elif isinstance(value, (float, np.floating)):
        m.SetDoubleProp(key, float(value))
    else:
        m.SetProp(key, str(value))


def molecule_to_rdkit(mol: Molecule) -> Chem.Mol:
    """An unsanitized RDKit molecule with one 3D conformer, bonds, formal charges, name and properties.

    Atoms get no implicit hydrogens (every atom of a ``Molecule`` is explicit); sanitizing is left to
    callers so that generated molecules with odd valences still convert.
    """
    rw = Chem.RWMol()
    charges = mol.charges if mol.charges is not None else np.zeros(len(mol), dtype=np.int64)
    for z, charge in zip(mol.numbers, charges):
        atom = Chem.Atom(element_symbol(int(z)))
        atom.SetFormalCharge(int(charge))
        atom.SetNoImplicit(True)
        rw.AddAtom(atom)
    for i, j, order in mol.bonds if mol.bonds is not None else ():
        i, j, order = int(i), int(j), int(order)
        if not (0 <= i < len(mol) and 0 <= j < len(mol)) or i == j:
            raise ValueError(f"bond {i}-{j} does not join two distinct atoms of {len(mol)}")
        if order not in BOND_TYPES:
            raise ValueError(f"bond {i}-{j} has order {order}; expected 1, 2, 3 or 4 (aromatic)")
        if rw.GetBondBetweenAtoms(i, j) is not None:
            raise ValueError(f"bond {i}-{j} is listed twice")
        rw.AddBond(i, j, BOND_TYPES[order])
        if order == 4:
            rw.GetBondBetweenAtoms(i, j).SetIsAromatic(True)
            rw.GetAtomWithIdx(i).SetIsAromatic(True)
            rw.GetAtomWithIdx(j).SetIsAromatic(True)
    conformer = Chem.Conformer(len(mol))
    conformer.Set3D(True)
    for i, (x, y, z) in enumerate(mol.positions):
        conformer.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    rw.AddConformer(conformer, assignId=True)
    m = rw.GetMol()
    m.UpdatePropertyCache(strict=False)
    m.SetProp("_Name", mol.name)
    for key, value in mol.properties.items():
        _set_property(m, str(key), value)
    return m


def molecule_from_rdkit(m: Chem.Mol, conf_id: int = -1) -> Molecule:
    """A ``Molecule`` from the explicit atoms of ``m`` and conformer ``conf_id`` (charges and bonds always set).

    Implicit hydrogens are not added (call ``Chem.AddHs(m, addCoords=True)`` first if wanted). Text
    properties (e.g. SD tags) become bool / int / float where that is exact (see ``parse_property``).
    """
    if m.GetNumConformers() == 0:
        raise ValueError("RDKit molecule has no conformer (no coordinates)")
    try:
        positions = m.GetConformer(conf_id).GetPositions()
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"RDKit molecule has no conformer {conf_id}: {err}") from None
    atoms = list(m.GetAtoms())
    bonds = []
    for bond in m.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if bond.GetBondType() not in BOND_ORDERS:
            raise ValueError(f"bond {i}-{j} has unsupported type {bond.GetBondType()}")
        bonds.append((i, j, BOND_ORDERS[bond.GetBondType()]))
    props = m.GetPropsAsDict(includePrivate=False, includeComputed=False, autoConvertStrings=False)
    return Molecule(
        numbers=np.array([a.GetAtomicNum() for a in atoms], dtype=np.int64),
        positions=np.asarray(positions, dtype=np.float64).reshape(-1, 3),
        bonds=np.array(bonds, dtype=np.int64).reshape(-1, 3),
        charges=np.array([a.GetFormalCharge() for a in atoms], dtype=np.int64),
        name=m.GetProp("_Name") if m.HasProp("_Name") else "",
        properties={key: parse_property(value) if isinstance(value, str) else value for key, value in props.items()},
    )
