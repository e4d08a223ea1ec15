"""Molecule <-> RDKit and Protein <-> Biopython conversions, and the element table."""

from __future__ import annotations

import numpy as np
import pytest
from Bio.PDB.Atom import Atom
from Bio.PDB.Chain import Chain
from Bio.PDB.Model import Model
from Bio.PDB.Residue import Residue
from Bio.PDB.Structure import Structure
from rdkit import Chem
from rdkit.Chem import AllChem

from gen3d.structures import Molecule, Protein
from gen3d.structures.biopython import protein_from_structure, protein_to_structure
from gen3d.structures.rdkit import atomic_number, element_symbol, molecule_from_rdkit, molecule_to_rdkit


def formamide_cation() -> Molecule:
    """H2N-CH=O with all bond kinds used (1, 2, 3 via a nitrile stub, 4 aromatic) and a charge."""
    positions = np.arange(21, dtype=float).reshape(7, 3) / 7.0
    bonds = [[0, 1, 2], [0, 2, 1], [2, 3, 1], [2, 4, 1], [0, 5, 1], [5, 6, 3], [3, 4, 4]]
    return Molecule(
        numbers=[6, 8, 7, 1, 1, 6, 7], positions=positions, bonds=bonds, charges=[0, 0, 1, 0, 0, 0, -1],
        name="test", properties={"flag": False, "count": 3, "score": 0.125, "note": "hi", "big": 2**40},
    )


def test_element_table():
    assert atomic_number("C") == 6 and atomic_number("CL") == 17 and atomic_number("fe") == 26
    assert atomic_number("D") == 1 and element_symbol(26) == "Fe" and element_symbol(118) == "Og"
    with pytest.raises(KeyError):
        atomic_number("Xx")
    with pytest.raises(ValueError):
        element_symbol(0)


def test_molecule_rdkit_round_trip_is_exact():
    mol = formamide_cation()
    m = molecule_to_rdkit(mol)
    assert m.GetNumAtoms() == 7 and m.GetConformer().Is3D()
    assert m.GetBondBetweenAtoms(5, 6).GetBondType() == Chem.BondType.TRIPLE
    assert m.GetBondBetweenAtoms(3, 4).GetIsAromatic() and m.GetAtomWithIdx(2).GetFormalCharge() == 1
    assert all(a.GetNoImplicit() for a in m.GetAtoms())
    back = molecule_from_rdkit(m)
    np.testing.assert_array_equal(back.numbers, mol.numbers)
    np.testing.assert_array_equal(back.positions, mol.positions)
    np.testing.assert_array_equal(back.bonds, mol.bonds)
    np.testing.assert_array_equal(back.charges, mol.charges)
    assert back.name == "test"
    assert back.properties == {"flag": False, "count": 3, "score": 0.125, "note": "hi", "big": 2**40}


def test_molecule_from_sanitized_rdkit_and_conformer_choice():
    m = Chem.AddHs(Chem.MolFromSmiles("c1ccccc1C(=O)[O-]"))
    AllChem.Compute2DCoords(m)
    second = Chem.Conformer(m.GetConformer())
    for i in range(m.GetNumAtoms()):
        p = second.GetAtomPosition(i)
        second.SetAtomPosition(i, (p.x, p.y, 1.5))
    conf_id = m.AddConformer(second, assignId=True)
    mol = molecule_from_rdkit(m, conf_id=conf_id)
    assert len(mol) == m.GetNumAtoms() and np.all(mol.positions[:, 2] == 1.5)
    assert sorted(set(mol.bonds[:, 2].tolist())) == [1, 2, 4] and mol.charges.sum() == -1
    assert molecule_from_rdkit(m).positions[:, 2].max() == 0.0
    with pytest.raises(ValueError, match="no conformer 7"):
        molecule_from_rdkit(m, conf_id=7)
    with pytest.raises(ValueError, match="no conformer"):
        molecule_from_rdkit(Chem.MolFromSmiles("CO"))


@pytest.mark.parametrize(
    ("bonds", "message"),
    [([[0, 0, 1]], "distinct"), ([[0, 5, 1]], "distinct"), ([[0, 1, 7]], "order 7"), ([[0, 1, 1], [1, 0, 2]], "twice")],
)
def test_invalid_bonds_are_value_errors(bonds, message):
    with pytest.raises(ValueError, match=message):
        molecule_to_rdkit(Molecule(numbers=[6, 8], positions=np.zeros((2, 3)), bonds=bonds))


def small_protein() -> Protein:
    """Two chains, an insertion code, a ligand sharing chain A, a negative residue number."""
    rows = [
        ("A", 10, "", "GLY", "N", "N"), ("A", 10, "", "GLY", "CA", "C"),
        ("A", 10, "B", "ALA", "N", "N"), ("A", 10, "B", "ALA", "CA", "C"), ("A", 10, "B", "ALA", "CB", "C"),
        ("A", 11, "", "SEP", "P", "P"), ("A", 11, "", "SEP", "OG", "O"),
        ("B", -2, "", "MG", "MG", "Mg"),
    ]
    chain, number, icode, resname, name, element = map(list, zip(*rows))
    positions = np.random.default_rng(3).normal(size=(len(rows), 3)) * 5
    return Protein(chain, number, icode, resname, name, element, positions, b_factors=np.arange(len(rows)) + 0.5)


def test_protein_structure_round_trip_is_exact():
    p = small_protein()
    s = protein_to_structure(p)
    chain_a = s[0]["A"]
    assert [r.id for r in chain_a] == [(" ", 10, " "), (" ", 10, "B"), ("H_SEP", 11, " ")]
    assert s[0]["B"][("H_MG", -2, " ")]["MG"].element == "MG"
    back = protein_from_structure(s)
    for field in ("chain_ids", "residue_numbers", "insertion_codes", "residue_names", "atom_names", "elements"):
        np.testing.assert_array_equal(getattr(back, field), getattr(p, field), err_msg=field)
    np.testing.assert_array_equal(back.positions, p.positions)
    np.testing.assert_array_equal(back.b_factors, p.b_factors)


def test_repeated_residue_id_is_rejected():
    p = small_protein()
    p.residue_numbers[5:7] = 10  # GLY A10 again, after A10B: stored as hetero residue H_GLY 10
    p.residue_names[5:7] = "GLY"
    assert protein_to_structure(p)[0]["A"][("H_GLY", 10, " ")]["P"].get_coord()[0] == p.positions[5, 0]
    numbers = [10, 11, 10, 12, 10]  # a third separate run of A10: ambiguous
    names = ["GLY", "ALA", "GLY", "ALA", "GLY"]
    three = Protein(["A"] * 5, numbers, [""] * 5, names, ["CA"] * 5, ["C"] * 5, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="residue 10 twice"):
        protein_to_structure(three)


def test_from_structure_skips_water_and_takes_first_altloc():
    s = Structure("x")
    model = Model(0)
    s.add(model)
    chain = Chain("A")
    model.add(chain)
    residue = Residue((" ", 1, " "), "SER", "    ")
    chain.add(residue)
    residue.add(Atom("N", np.array([0.0, 0, 0]), 0.0, 1.0, " ", " N  ", 1, "N"))
    from Bio.PDB.Atom import DisorderedAtom

    disordered = DisorderedAtom("OG")
    residue.add(disordered)
    for altloc, x in (("A", 1.0), ("B", 2.0)):
        atom = Atom("OG", np.array([x, 0, 0]), 0.0, 0.5, altloc, " OG ", 2, "O")
        disordered.disordered_add(atom)
    water = Residue(("W", 2, " "), "HOH", "    ")
    water.add(Atom("O", np.array([9.0, 9, 9]), 0.0, 1.0, " ", " O  ", 3, "O"))
    chain.add(water)
    p = protein_from_structure(s)
    assert p.atom_names.tolist() == ["N", "OG"] and p.positions[1, 0] == 1.0
    with pytest.raises(ValueError, match="no model 1"):
        protein_from_structure(s, model_index=1)
