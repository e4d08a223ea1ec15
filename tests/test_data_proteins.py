"""Protein residues in the 14-slot layout, chain segments, modified residues and the fragment dataset."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from gen3d.data.protein_chains import ProteinError, protein_from_chains, residue_chains, split_at_breaks
from gen3d.data.protein_corpus import build_fragments, entry_id, load_fragments, save_fragments, split_of, structure_files
from gen3d.data.residues import RESIDUE_INDEX, SLOT_EXISTS, canonical
from gen3d.io.pdb import read_protein
from tests.protein_fixtures import dssp_chain, mdanalysis_data


def test_real_chain_is_read_with_every_heavy_atom_in_its_slot():
    protein = read_protein(dssp_chain("4gcnA"))
    (chain,) = residue_chains(protein)
    heavy = (protein.elements != "H").sum() - (protein.atom_names == "OXT").sum()
    assert chain.mask.sum() == heavy  # nothing dropped, nothing invented
    assert not (chain.mask & ~SLOT_EXISTS[chain.aatype]).any()
    assert len(chain.breaks()) == 0
    again = residue_chains(protein_from_chains([chain], terminal_oxygens=False))[0]
    assert np.allclose(again.coords, chain.coords) and (again.aatype == chain.aatype).all()


def test_charmm_file_without_element_column_and_with_hydrogens():
    protein = read_protein(mdanalysis_data() / "adk_closed.pdb")
    assert set(protein.elements) == {"C", "N", "O", "S", "H"}  # CA is carbon, not calcium (no element column)
    (chain,) = residue_chains(read_protein(mdanalysis_data() / "adk_open.pdb"))
    assert len(chain) == 214 and chain.sequence.startswith("MRIILLGAPGAGKGT")
    assert chain.mask[:, :4].all()
    assert (chain.mask == SLOT_EXISTS[chain.aatype]).all()  # every heavy atom, Ile CD read as CD1


def test_modified_residues_map_to_their_parent():
    assert canonical("MSE") == ("MET", {"SE": "SD"}) and canonical("ILE") == ("ILE", {"CD": "CD1"})
    assert canonical("HOH") is None and canonical("XYZ") is None


def _pdb_lines(path):
    with gzip.open(path, "rt") as handle:
        return [l for l in handle if l.startswith(("ATOM", "HETATM"))]


def test_strict_reading_names_the_bad_residue(tmp_path):
    lines = _pdb_lines(dssp_chain("4gcnA"))
    res = lines[40][17:20]
    bad = [l[:17] + "XYZ" + l[20:] if l[17:20] == res and l[22:26] == lines[40][22:26] else l for l in lines]
    path = tmp_path / "bad.pdb"
    path.write_text("".join(bad) + "END\n")
    with pytest.raises(ProteinError, match="non-standard residue XYZ"):
        residue_chains(read_protein(path))
    segments = residue_chains(read_protein(path), strict=False)  # corpus mode: cut there instead
    assert len(segments) == 2


def test_missing_backbone_is_an_error_in_strict_mode(tmp_path):
    lines = _pdb_lines(dssp_chain("4gcnA"))
    number = lines[60][22:26]
    kept = [l for l in lines if not (l[22:26] == number and l[12:16].strip() == "CA")]
    path = tmp_path / "noca.pdb"
    path.write_text("".join(kept) + "END\n")
    with pytest.raises(ProteinError, match="no backbone CA"):
        residue_chains(read_protein(path))


def test_segments_are_cut_at_chain_breaks():
    (chain,) = residue_chains(read_protein(dssp_chain("4gcnA")))
    chain.coords[30:] += 10.0  # pull the second half away: the C-N bond 29-30 breaks
    parts = split_at_breaks(chain)
    assert [len(p) for p in parts] == [30, len(chain) - 30]


def test_split_depends_on_the_entry_id_only():
    assert split_of("1ABC") == split_of("1abc")
    counts = {s: 0 for s in ("train", "valid", "test")}
    for i in range(2000):
        counts[split_of(f"{i:04d}")] += 1
    assert 60 < counts["test"] < 140 and 60 < counts["valid"] < 140
    assert entry_id("x/1abc.pdb.gz") == "1abc" and entry_id("2xyz.cif") == "2xyz"


def test_dataset_round_trip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("4gcnA", "3aqgA", "1ahsA"):
        shutil.copy(dssp_chain(name), src / f"{name}.pdb.gz")
    files = structure_files(src)
    data = build_fragments(files, min_length=30)
    save_fragments(tmp_path / "d.npz", data)
    back = load_fragments(tmp_path / "d.npz")
    assert len(back) == len(data) >= 3
    assert np.array_equal(back.coords, data.coords) and set(back.splits) <= {"train", "valid", "test"}
    seg = back.segment(0)
    assert seg.aatype.max() < 20 and seg.mask[:, 1].all()
    assert back.whole.any()
    assert RESIDUE_INDEX["GLY"] == 7
