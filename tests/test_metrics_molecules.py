"""Molecule metrics: bond perception, EDM stability, uniqueness/novelty, PoseBusters, time limits."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from gen3d.metrics import perception
from gen3d.metrics.bonds import bond_length_distances, bond_type
from gen3d.metrics.molecules import evaluate_molecules, metric_rows, novelty, summary_rows, uniqueness
from gen3d.metrics.perception import perceive, perceive_arrays, perceive_results
from gen3d.metrics.pool import TimedPool
from gen3d.metrics.reference import Reference
from gen3d.metrics.stability import atom_stability, edm_bond_orders
from gen3d.structures.molecule import Molecule

SLOW_ATOMS = 12  # molecules of this size hang in the slow perceiver below


def embed(smiles: str, seed: int = 7) -> Molecule:
    """A 3D molecule with hydrogens: ETKDG embedding then MMFF relaxation."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    assert AllChem.EmbedMolecule(mol, randomSeed=seed) == 0
    AllChem.MMFFOptimizeMolecule(mol)
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    return Molecule(numbers, mol.GetConformer().GetPositions(), name=smiles)


@pytest.fixture(scope="module")
def small() -> dict[str, Molecule]:
    return {s: embed(s) for s in ("CCO", "CC(=O)O", "CC#N", "FC(F)F", "c1ccccc1", "NC=O")}


def slow_perceive(item):
    """Perceiver that never finishes on molecules with SLOW_ATOMS atoms (for the timeout path)."""
    if len(item[0]) == SLOW_ATOMS:
        time.sleep(60)
    return perceive_arrays(item)


def test_small_molecules_valid_with_expected_smiles(small):
    for smiles, mol in small.items():
        result = perceive_arrays((mol.numbers, mol.positions))
        assert result.valid and result.reason == "ok", (smiles, result)
        assert result.smiles_flat == Chem.MolToSmiles(Chem.MolFromSmiles(smiles), isomericSmiles=False)
    benzene = perceive_arrays((small["c1ccccc1"].numbers, small["c1ccccc1"].positions))
    assert benzene.aromatic.sum() == 6 and set(benzene.bonds[:, 2]) == {1, 2}  # Kekulé orders kept


def test_edm_stability_of_relaxed_molecules(small):
    for smiles in ("CCO", "CC(=O)O", "CC#N", "FC(F)F", "NC=O"):
        mol = small[smiles]
        assert atom_stability(mol.numbers, mol.positions).all(), smiles
    orders = edm_bond_orders(small["CC#N"].numbers, small["CC#N"].positions)
    assert orders.max() == 3 and (orders == orders.T).all()


def test_collapsed_atoms_are_invalid(small):
    mol = small["CCO"]
    positions = mol.positions.copy()
    positions[1] = positions[0] + 0.1
    result = perceive_arrays((mol.numbers, positions))
    assert not result.valid and result.reason == "atoms too close"
    assert not atom_stability(mol.numbers, positions).all()


def test_broken_valence_is_unstable_and_invalid(small):
    mol = small["CCO"]
    drop = int(np.flatnonzero(mol.numbers == 1)[0])  # a hydrogen: leaves a radical
    numbers, positions = np.delete(mol.numbers, drop), np.delete(mol.positions, drop, axis=0)
    stable = atom_stability(numbers, positions)
    assert stable.sum() == len(numbers) - 1
    assert not perceive_arrays((numbers, positions)).valid
    c0, h = mol.positions[0], mol.positions[[i for i in range(len(mol)) if mol.numbers[i] == 1][0]]
    crowded = np.vstack([mol.positions, c0 - 1.1 * (h - c0) / np.linalg.norm(h - c0)])  # a 5th neighbour
    result = perceive_arrays((np.append(mol.numbers, 1), crowded))
    assert not result.valid and result.reason == "valence exceeded"


def test_uniqueness_and_novelty_functions():
    assert uniqueness(["CCO", "CCO", "CC"]) == pytest.approx(2 / 3)
    assert novelty(["CCO", "CCO", "CC", "C"], {"CCO"}) == pytest.approx(2 / 3)
    assert uniqueness([]) is None and novelty([], {"C"}) is None


def test_evaluate_through_workers_with_duplicates_and_fake_reference(small):
    mols = [small["CCO"], small["CCO"], small["CC(=O)O"], small["CC#N"]]
    reference = Reference(
        "fake", frozenset({"CCO"}),
        {"C-H": np.full(50, 1.09), "C-C": np.full(20, 1.50), "C-O": np.full(10, 1.43), "N-N": np.full(1, 1.4)},
    )
    report = evaluate_molecules(mols, reference=reference, posebusters=False, workers=1)
    m = report["metrics"]
    assert report["n"] == 4 and len(report["per_item"]) == 4
    assert m["validity"] == 1.0 and m["validity_any_fragments"] == 1.0
    assert m["uniqueness"] == pytest.approx(3 / 4)
    assert m["novelty"] == pytest.approx(2 / 3)  # CCO is in the reference
    assert m["atom_stability"] == 1.0 and m["molecule_stability"] == 1.0
    assert 0 < m["bond_length_w1_C-H"] < 0.02 and m["bond_length_w1_C-C"] < 0.05
    assert m["bond_length_w1_N-N"] is None  # not generated: no value, no weight
    assert 0 < m["bond_length_w1_mean"] < 0.05
    item = report["per_item"][2]
    assert item["valid"] and item["stable"] and item["smiles"] == "CC(=O)O" and item["posebusters_pass"] is None
    assert [k for k, _, _ in metric_rows(report)][1:] == list(m)
    assert ("bond_length_w1_N-N", "-") in summary_rows(report)
    assert json.loads(json.dumps(report)) == report


def test_reference_none_skips_novelty_and_bond_lengths(small):
    report = evaluate_molecules([small["CCO"]], reference=None, posebusters=False, workers=0)
    assert "novelty" not in report["metrics"]
    assert not any(k.startswith("bond_length") for k in report["metrics"])
    assert evaluate_molecules([], reference=None, posebusters=False)["metrics"]["validity"] is None


def test_pool_kills_a_stuck_item_and_goes_on():
    pool = TimedPool(time.sleep, workers=1)
    try:
        start = time.monotonic()
        outcomes = pool.map([0.0, 60.0, 0.0], timeout=1.0)
        assert [o.status for o in outcomes] == ["ok", "timeout", "ok"]
        assert time.monotonic() - start < 20
        assert pool.map(["not a number"], timeout=5.0)[0].status == "error"
    finally:
        pool.close()


def test_perception_timeout_marks_molecule_invalid(small, monkeypatch):
    slow = embed("CCCO")
    assert len(slow) == SLOW_ATOMS
    monkeypatch.setattr(perception, "perceive_arrays", slow_perceive)
    results = perceive_results([small["CCO"], slow, small["CC#N"]], timeout=1.0, workers=1)
    assert [r.reason for r in results] == ["ok", "timeout", "ok"]
    assert not results[1].valid


def test_perceive_fills_bonds_and_properties(small):
    out = perceive(small["CC(=O)O"])
    assert out.properties["valid"] is True and out.properties["reason"] == "ok"
    assert out.properties["smiles"] == "CC(=O)O"
    assert sorted(out.bonds[:, 2].tolist()) == [1] * 6 + [2]
    assert out.charges.tolist() == [0] * len(out)
    assert small["CC(=O)O"].bonds is None  # the input is not modified


def test_bond_types_are_canonical():
    assert bond_type(1, 6, 1) == "C-H" and bond_type(8, 6, 2) == "C=O" and bond_type(7, 6, 4) == "C:N"
    per_type, mean = bond_length_distances({"C-H": np.array([1.1, 1.1])}, {"C-H": np.array([1.0, 1.0])})
    assert per_type["C-H"] == pytest.approx(0.1) and mean == pytest.approx(0.1)


def test_posebusters_on_valid_molecules(small):
    collapsed = Molecule(small["CCO"].numbers, np.zeros_like(small["CCO"].positions))
    report = evaluate_molecules([small["CCO"], small["CC(=O)O"], collapsed], reference=None, workers=1)
    m = report["metrics"]
    assert m["validity"] == pytest.approx(2 / 3)
    assert m["posebusters_all_pass"] == 1.0 and m["posebusters_errors"] == 0.0
    assert m["posebusters_sanitization"] == 1.0 and m["posebusters_internal_energy"] == 1.0
    assert [p["posebusters_pass"] for p in report["per_item"]] == [True, True, None]
