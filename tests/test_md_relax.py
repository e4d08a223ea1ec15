"""Amber relaxation of generated chains: closes chain gaps, removes clashes, keeps atoms, order and fold."""

from __future__ import annotations

import numpy as np
import pytest

from gen3d.io.pdb import read_protein
from gen3d.md.relax import Relaxation, RelaxError, relax_protein
from gen3d.metrics.proteins import score_protein
from gen3d.structures.protein import Protein
from tests.protein_fixtures import dssp_chain


def _first_residues(protein: Protein, n: int) -> Protein:
    keep = np.flatnonzero(np.isin(protein.residue_numbers, np.unique(protein.residue_numbers)[:n]))
    return Protein(protein.chain_ids[keep], protein.residue_numbers[keep], protein.insertion_codes[keep],
                   protein.residue_names[keep], protein.atom_names[keep], protein.elements[keep],
                   protein.positions[keep].copy(), None, "piece")


@pytest.fixture(scope="module")
def damaged() -> tuple[Protein, Protein]:
    """24 real residues, and the same with a 1.5 Å gap opened after residue 12 and 0.1 Å of noise on every atom."""
    native = _first_residues(read_protein(dssp_chain()), 24)
    bad = _first_residues(read_protein(dssp_chain()), 24)
    rng = np.random.default_rng(0)
    bad.positions += rng.normal(0, 0.1, bad.positions.shape).astype(bad.positions.dtype)
    later = bad.residue_numbers > np.unique(bad.residue_numbers)[11]
    c_n = bad.positions[later & (bad.atom_names == "N")][0] - bad.positions[~later & (bad.atom_names == "C")][-1]
    bad.positions[later] += 1.5 * c_n / np.linalg.norm(c_n)
    return native, bad


def test_relax_closes_the_gap_and_keeps_atoms_and_fold(damaged):
    _, bad = damaged
    assert score_protein(bad)[0]["chain_breaks"] == 1
    out = relax_protein(bad, Relaxation(solvent="vacuum"))
    scores = score_protein(out)[0]
    assert scores["chain_breaks"] == 0 and scores["clashes"] == 0
    # same heavy atoms in the same order, plus the C-terminal OXT Amber needs
    assert out.atom_names[out.atom_names != "OXT"].tolist() == bad.atom_names.tolist()
    assert (out.atom_names == "OXT").sum() == 1 and not (out.elements == "H").any()
    ca = bad.atom_names == "CA"
    moved = np.linalg.norm(out.positions[out.atom_names != "OXT"][ca] - bad.positions[ca], axis=1)
    assert moved.mean() < 0.5  # restraints keep the drawn fold: C-alphas move a few tenths of an Å


def test_stiffer_restraints_move_atoms_less(damaged):
    _, bad = damaged
    ca = bad.atom_names == "CA"

    def shift(k: float) -> float:
        out = relax_protein(bad, Relaxation(restraint=k, solvent="vacuum"))
        return float(np.linalg.norm(out.positions[out.atom_names != "OXT"][ca] - bad.positions[ca], axis=1).mean())

    assert shift(10.0) < shift(0.1)


def test_implicit_solvent_relax_runs_and_unknown_inputs_are_refused(damaged):
    _, bad = damaged
    assert score_protein(relax_protein(bad, Relaxation(max_iterations=200)))[0]["chain_breaks"] == 0
    with pytest.raises(RelaxError, match="unknown solvent"):
        relax_protein(bad, Relaxation(solvent="water"))
    incomplete = _first_residues(bad, 3)
    keep = incomplete.atom_names != "CB"
    incomplete = Protein(*(getattr(incomplete, f)[keep] for f in ("chain_ids", "residue_numbers", "insertion_codes",
                         "residue_names", "atom_names", "elements", "positions")), None, "holes")
    with pytest.raises(RelaxError, match="lacks CB"):
        relax_protein(incomplete)
