"""Protein quality metrics on real PDB chains (MDAnalysisTests' DSSP set): geometry, breaks, clashes, Ramachandran,
DSSP, Rg, TM-scores, the OpenMM build check, the report and the plots."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from gen3d.io.errors import InputError
from gen3d.io.pdb import read_protein
from gen3d.metrics.protein_geometry import (
    atom_residues, backbone, backbone_measurements, breaks, deviations, dihedrals, expected_rg, outliers,
    phi_psi, radius_of_gyration,
)
from gen3d.metrics.protein_ramachandran import CLASSES, ramachandran, residue_classes
from gen3d.metrics.protein_structure import clashes, secondary_structure, secondary_structure_fractions
from gen3d.metrics.proteins import evaluate_proteins, summary_rows
from gen3d.structures.protein import Protein

DSSP = Path(importlib.util.find_spec("MDAnalysisTests").submodule_search_locations[0]) / "data" / "dssp"
CHAINS = sorted(DSSP.glob("?????.pdb.gz"))  # 50 chains with reference DSSP strings (*.pdb.dssp)


def chain(name: str) -> Protein:
    return read_protein(DSSP / f"{name}.pdb.gz")


def reference_dssp(name: str) -> str:
    return (DSSP / f"{name}.pdb.dssp").read_text().split()[0]


def rotated(protein: Protein, seed: int = 0) -> Protein:
    """A copy rotated by a random rotation and shifted by 30 Å."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    copy = read_protein(DSSP / f"{protein.name}.pdb.gz")
    copy.positions = protein.positions @ q.T + 30.0
    return copy


def shifted_residue(protein: Protein, k: int, distance: float = 5.0) -> Protein:
    """``protein`` with residue ``k`` moved by ``distance`` Å towards the centre of the protein."""
    sel = atom_residues(protein) == k
    direction = protein.positions.mean(axis=0) - protein.positions[sel].mean(axis=0)
    protein.positions[sel] += distance * direction / np.linalg.norm(direction)
    return protein


@pytest.fixture(scope="module")
def helical():
    return chain("4gcnA")  # 127 residues, 82 % helix by DSSP


@pytest.fixture(scope="module")
def sheet():
    return chain("3aqgA")  # 133 residues, 53 % strand, no helix


def test_dihedrals_match_biopython(helical):
    from Bio.PDB.vectors import Vector, calc_dihedral

    x = backbone(helical).coords
    a, b, c, d = x[:-1, 2], x[1:, 0], x[1:, 1], x[1:, 2]  # phi of residues 2..L
    ours = dihedrals(a, b, c, d)
    theirs = [np.degrees(calc_dihedral(*(Vector(*p[i]) for p in (a, b, c, d)))) for i in range(5)]
    np.testing.assert_allclose(ours[:5], theirs, atol=1e-8)
    trans = [np.array([p], dtype=float) for p in ([1, 0, 0], [0, 0, 0], [0, 1, 0], [-1, 1, 0])]
    assert dihedrals(*trans)[0] == 180


def test_backbone_geometry_of_a_real_chain_is_near_ideal(helical):
    bb = backbone(helical)
    assert len(bb) == 127 and bb.complete.all()
    measured = backbone_measurements(bb)
    assert {k: len(v) for k, v in measured.items()} == {
        "n_ca": 127, "ca_c": 127, "c_n": 126, "n_ca_c": 127, "ca_c_n": 126, "c_n_ca": 126,
    }
    mad = {k: float(v.mean()) for k, v in deviations(measured).items()}
    assert mad["n_ca"] < 0.02 and mad["ca_c"] < 0.02 and mad["c_n"] < 0.02  # Å
    assert mad["n_ca_c"] < 2.5 and mad["ca_c_n"] < 1.5 and mad["c_n_ca"] < 1.5  # degrees
    assert sum(int(v.sum()) for v in outliers(measured).values()) <= 1  # of 759 measurements


def test_real_chains_have_no_breaks_and_a_moved_residue_has_two():
    for name in ("4gcnA", "3aqgA", "2xcjA", "1i8nA"):
        assert not breaks(backbone(chain(name))).any(), name
    moved = shifted_residue(chain("4gcnA"), 60)
    assert np.flatnonzero(breaks(backbone(moved))).tolist() == [59, 60]  # C(59)-N(60) and C(60)-N(61)
    angles = backbone_measurements(backbone(moved))
    assert len(angles["c_n"]) == 124  # the two broken peptide bonds are not scored as bonds


def test_ca_only_chains_break_on_ca_distance(helical):
    ca = helical.atom_names == "CA"
    p = Protein(*(getattr(helical, k)[ca] for k in ("chain_ids", "residue_numbers", "insertion_codes",
                                                     "residue_names", "atom_names", "elements", "positions")))
    assert len(backbone(p)) == 127 and not breaks(backbone(p)).any()  # CA-CA 3.8 Å < 4.2 Å
    step = p.positions[70] - p.positions[69]
    p.positions[70:] += step / np.linalg.norm(step)  # CA(69)-CA(70) 3.8 -> 4.8 Å
    assert np.flatnonzero(breaks(backbone(p))).tolist() == [69]


def test_chains_are_not_linked_across_chain_ids(helical):
    p = read_protein(DSSP / "4gcnA.pdb.gz")
    p.chain_ids = np.where(p.residue_numbers >= p.residue_numbers[0] + 50, "B", "A")
    bb = backbone(p)
    assert bb.adjacent.sum() == 125 and not breaks(bb).any()
    phi, psi = phi_psi(bb)
    assert np.isnan(phi).sum() == 2 and np.isnan(psi).sum() == 2  # both chains' ends


def test_ramachandran_of_50_real_chains():
    allowed, favoured, per_chain = [], [], []
    for path in CHAINS:
        rama = ramachandran(backbone(read_protein(path)))
        allowed.append(rama["allowed"])
        favoured.append(rama["favoured"])
        per_chain.append(rama["allowed"].mean())
    allowed, favoured = np.concatenate(allowed), np.concatenate(favoured)
    assert len(allowed) == 6760
    assert allowed.mean() > 0.995 and favoured.mean() > 0.96  # measured 99.56 % and 96.73 %
    assert sorted(per_chain)[1] >= 0.95  # every chain but one (1mr1D, 93.6 %) is >= 95 % allowed


def test_ramachandran_classes_and_outliers(helical):
    bb = backbone(helical)
    cls = residue_classes(bb)
    names = bb.residue_names
    assert (cls[names == "GLY"] == CLASSES.index("glycine")).all() and (cls[names == "PRO"] == 2).all()
    pre = np.flatnonzero((names[1:] == "PRO") & (names[:-1] != "GLY") & (names[:-1] != "PRO"))
    assert len(pre) and (cls[pre] == CLASSES.index("pre-proline")).all()
    mirrored = chain("3aqgA")
    assert ramachandran(backbone(mirrored))["allowed"].all()
    mirrored.positions[:, 0] *= -1  # the mirror image: phi and psi change sign, beta strands land at phi > 0
    rama = ramachandran(backbone(mirrored))
    assert rama["allowed"].mean() < 0.5 and rama["favoured"].mean() < 0.25  # measured 42.7 % and 19.1 %


def test_dssp_matches_reference_assignments(helical, sheet):
    for protein, name in ((helical, "4gcnA"), (sheet, "3aqgA"), (chain("1eteA"), "1eteA")):
        ss = secondary_structure(backbone(protein))
        assert "".join("-HE"[k] for k in ss) == reference_dssp(name)
    helix = secondary_structure_fractions(secondary_structure(backbone(helical)))
    assert helix["helix"] == pytest.approx(104 / 127) and helix["strand"] == 0.0
    strand = secondary_structure_fractions(secondary_structure(backbone(sheet)))
    assert strand["strand"] == pytest.approx(70 / 133) and strand["helix"] == 0.0


def test_clashes_real_chain_low_moved_residue_high(helical):
    real = clashes(helical, backbone(helical))
    assert real.count == 0 and real.heavy_atoms == 1027 and real.score == 0.0  # its one 0.41 Å contact is a 1-5 pair
    moved = shifted_residue(read_protein(DSSP / "4gcnA.pdb.gz"), 60)
    found = clashes(moved, backbone(moved))
    res = atom_residues(moved)
    assert found.count >= 10 and found.overlaps.max() > 1.5
    new = [pair for pair in found.pairs.tolist() if pair not in real.pairs.tolist()]
    assert len(new) == found.count and all(60 in res[pair] for pair in new)  # all with the moved residue


def test_clash_rules_calibrated_on_real_chains():
    """Hydrogen bonds, salt bridges and 1-5 contacts of deposited structures are not clashes."""
    names = ("1ahsA", "1bvyF", "1dx5I", "1eteA", "1h4aX", "1i8nA", "1lpbA", "1or4A", "1pdoA", "2a2lA")
    found = [clashes(chain(name), backbone(chain(name))) for name in names]
    assert sum(c.count for c in found) == 5  # 2.2-2.8 Å contacts in 4 of these 100-300-residue chains
    assert max(c.score for c in found) < 2.0 and all(c.overlaps.max() < 0.8 for c in found if c.count)


def test_clashes_exempt_bonded_neighbours_and_disulfides():
    from gen3d.metrics.protein_structure import CLASH_OVERLAP, VDW_RADII

    p = chain("1i8nA")  # 3 disulfide bridges
    sg = p.positions[p.atom_names == "SG"]
    d = np.linalg.norm(sg[:, None] - sg[None], axis=-1)
    bridges = d[(d > 0) & (d < 2.5)]
    assert len(bridges) == 6 and (2 * VDW_RADII["S"] - bridges > 1.5).all()  # S-S overlap ~1.55 Å
    x = backbone(p).coords
    ca_n = np.linalg.norm(x[:-1, 1] - x[1:, 0], axis=1)  # CA(i)-N(i+1), two bonds apart
    assert (VDW_RADII["C"] + VDW_RADII["N"] - ca_n > CLASH_OVERLAP).all()
    assert clashes(p, backbone(p)).count == 0  # none of these covalent neighbours counts


def test_radius_of_gyration_follows_the_power_law(helical, sheet):
    for protein in (helical, sheet):
        bb = backbone(protein)
        assert radius_of_gyration(bb) == pytest.approx(expected_rg(len(bb)), rel=0.1)
    assert radius_of_gyration(backbone(helical)) == pytest.approx(14.88, abs=0.01)
    assert float(expected_rg(127)) == pytest.approx(2.2 * 127**0.38)


def test_tm_scores_self_rotated_and_unrelated(helical, sheet):
    from gen3d.metrics.protein_similarity import max_tm_to_reference, pairwise_tm, tm_scores

    a, b = backbone(helical), backbone(rotated(helical))
    assert tm_scores(a, a) == pytest.approx((1.0, 1.0))
    assert min(tm_scores(a, b)) > 0.999
    unrelated = tm_scores(a, backbone(sheet))
    assert max(unrelated) < 0.4
    assert pairwise_tm([a, b]) > 0.999
    assert pairwise_tm([a, b, backbone(sheet)]) < 0.6
    best = max_tm_to_reference([a, backbone(sheet)], [b])
    assert best[0] > 0.999 and best[1] < 0.4


def test_missing_tmtools_is_a_clear_input_error(monkeypatch):
    from gen3d.metrics.protein_similarity import MissingDependency, require_tmtools

    monkeypatch.setitem(sys.modules, "tmtools", None)
    with pytest.raises(MissingDependency, match="tmtools") as info:
        require_tmtools()
    assert isinstance(info.value, InputError) and "--no-tm" in str(info.value)


def test_openmm_builds_real_chain_and_names_what_is_wrong():
    from gen3d.metrics.protein_openmm import amino_acids_with_oxt, openmm_check

    p = chain("2xcjA")  # 84 residues, no OXT in the file
    with_oxt = amino_acids_with_oxt(p)
    assert len(with_oxt) == len(p) + 1 and with_oxt.atom_names[-1] == "OXT"
    last = with_oxt.residue_numbers == with_oxt.residue_numbers[-1]
    c, o, oxt = (with_oxt.positions[last & (with_oxt.atom_names == n)][0] for n in ("C", "O", "OXT"))
    assert np.linalg.norm(oxt - c) == pytest.approx(1.25)
    cos = np.dot(o - c, oxt - c) / (np.linalg.norm(o - c) * np.linalg.norm(oxt - c))
    assert 115 < np.degrees(np.arccos(cos)) < 130  # carboxylate, in the CA-C-O plane
    assert openmm_check(p) == ""
    no_side_chain = (p.residue_numbers == p.residue_numbers[200]) & (p.atom_names == "CB")
    broken = Protein(*(getattr(p, k)[~no_side_chain] for k in (
        "chain_ids", "residue_numbers", "insertion_codes", "residue_names", "atom_names", "elements", "positions")))
    reason = openmm_check(broken)
    assert reason.startswith(f"A {p.residue_numbers[200]} {p.residue_names[200]} lacks CB")


def test_evaluate_proteins_report(helical, sheet):
    moved = shifted_residue(read_protein(DSSP / "4gcnA.pdb.gz"), 60)
    report = evaluate_proteins([helical, sheet, moved], reference=[rotated(helical)])
    m = report["metrics"]
    assert report["n"] == 3 and len(report["per_item"]) == 3
    assert m["has_break"] == pytest.approx(1 / 3) and m["chain_breaks"] == pytest.approx(2 / 3)
    assert m["has_severe_clash"] == pytest.approx(1 / 3)
    assert m["rama_allowed"] > 0.97 and m["helix"] > 0.5 and m["strand"] > 0.15
    assert m["bond_length_mad_c_n"] < 0.02 and m["bond_angle_mad_n_ca_c"] < 3.0
    first, last = report["per_item"][0], report["per_item"][2]
    assert first["max_tm_to_reference"] > 0.999 and report["per_item"][1]["max_tm_to_reference"] < 0.4
    assert not first["has_break"] and last["has_break"] and last["chain_breaks"] == 2
    assert m["novel"] == pytest.approx(1 / 3)
    assert 0.4 < m["pairwise_tm"] < 0.8  # two copies of one fold and an unrelated chain
    rows = dict(summary_rows(report))
    assert list(rows)[1:] == list(m) and rows["n"] == "3" and rows["has_break"] == "33.3%"
    assert rows["bond_length_mad_n_ca"].endswith(" Å") and rows["clash_score"].endswith("per 1000 atoms")
    json.dumps(report)  # plain Python types only


def test_evaluate_nothing_and_without_tm():
    report = evaluate_proteins([], tm=False)
    assert report["n"] == 0 and report["per_item"] == []
    assert all(v is None for v in report["metrics"].values())
    assert "pairwise_tm" not in report["metrics"]
    assert dict(summary_rows(report))["rama_allowed"] == "-"


def test_plots_are_written_atomically(tmp_path, helical, sheet):
    from gen3d.metrics.protein_plots import write_plots

    paths = write_plots(tmp_path / "plots", [helical], reference=[sheet])
    assert [p.name for p in paths] == ["ramachandran.png", "radius_of_gyration.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["radius_of_gyration.png", "ramachandran.png"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_plots(tmp_path / "file", [helical])
