"""PDB / mmCIF reading and writing through Biopython, multi-model trajectories and bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from gen3d.io.errors import InputError
from gen3d.io.pdb import read_protein, read_trajectory, write_protein, write_trajectory
from tests.helpers import assert_input_error
from gen3d.structures import Molecule, Protein, Trajectory

TINY = Path(__file__).parent / "data" / "tiny.pdb"  # 2 chains, insertion codes, altlocs, Zn, one water
FIELDS = ("chain_ids", "residue_numbers", "insertion_codes", "residue_names", "atom_names", "elements")


def assert_same_protein(a: Protein, b: Protein, atol: float = 5e-4) -> None:
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    np.testing.assert_allclose(a.positions, b.positions, atol=atol)  # PDB and mmCIF keep 3 decimals


def test_read_fixture_numbering_insertion_codes_altlocs_water():
    p = read_protein(TINY)
    assert p.name == "tiny" and len(p) == 11
    assert p.chain_ids.tolist() == ["A"] * 8 + ["B"] * 3
    assert p.residue_numbers.tolist() == [1, 1, 1, 1, 2, 2, 2, 2, -3, -3, 101]
    assert p.insertion_codes.tolist() == [""] * 4 + ["A", "A", "B", "B"] + [""] * 3
    assert p.residue_names[[0, 4, 6, 8, 10]].tolist() == ["MET", "GLY", "SER", "ALA", "ZN"]
    assert p.elements[-1] == "Zn" and "HOH" not in p.residue_names
    np.testing.assert_allclose(p.positions[5], [13.542, 8.872, -3.301], atol=1e-6)  # altloc A, not B
    np.testing.assert_allclose(p.b_factors[:2], [10.5, 11.0])
    assert p.num_residues == 5


@pytest.mark.parametrize("name", ["out.pdb", "out.pdb.gz", "out.cif", "out.cif.gz"])
def test_round_trip(tmp_path, name):
    p = read_protein(TINY)
    p.positions = p.positions + np.random.default_rng(0).normal(scale=3.0, size=p.positions.shape)
    write_protein(tmp_path / name, p)
    back = read_protein(tmp_path / name)
    assert_same_protein(p, back)
    np.testing.assert_allclose(back.b_factors, p.b_factors)
    assert back.name == "out"
    if name.endswith(".gz"):
        assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b"


def test_write_is_deterministic_and_rejects_what_pdb_cannot_hold(tmp_path):
    p = read_protein(TINY)
    write_protein(tmp_path / "a.pdb.gz", p)
    first = (tmp_path / "a.pdb.gz").read_bytes()
    write_protein(tmp_path / "a.pdb.gz", p)
    assert (tmp_path / "a.pdb.gz").read_bytes() == first
    far = read_protein(TINY)
    far.positions[0, 0] = 12345.0
    with pytest.raises(InputError, match=r"far\.pdb: coordinates outside .* write \.cif instead"):
        write_protein(tmp_path / "far.pdb", far)
    assert not (tmp_path / "far.pdb").exists()
    write_protein(tmp_path / "far.cif", far)
    assert read_protein(tmp_path / "far.cif").positions[0, 0] == pytest.approx(12345.0)


@pytest.mark.parametrize("name", ["traj.pdb", "traj.pdb.gz"])
def test_trajectory_round_trip_with_times(tmp_path, name):
    p = read_protein(TINY)
    frames = p.positions[None] + np.random.default_rng(1).normal(size=(4, len(p), 3))
    traj = Trajectory(topology=p, frames=frames, times=[0.0, 0.2, 0.4, 1.0 / 3.0])
    write_trajectory(tmp_path / name, traj)
    back = read_trajectory(tmp_path / name)
    assert len(back) == 4
    np.testing.assert_array_equal(back.times, traj.times)
    np.testing.assert_allclose(back.frames, frames, atol=5e-4)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(back.topology, field), getattr(p, field))


def test_trajectory_times_fall_back_to_index_times_dt(tmp_path):
    p = read_protein(TINY)
    write_trajectory(tmp_path / "t.pdb", Trajectory(p, np.stack([p.positions] * 3), [5.0, 6.0, 7.0]))
    text = (tmp_path / "t.pdb").read_text()
    (tmp_path / "plain.pdb").write_text("".join(line for line in text.splitlines(True) if "TIME_PS" not in line))
    np.testing.assert_allclose(read_trajectory(tmp_path / "plain.pdb", dt_ps=0.5).times, [0.0, 0.5, 1.0])
    single = read_trajectory(TINY)
    assert len(single) == 1 and single.times.tolist() == [0.0]


def test_inconsistent_models_are_input_errors(tmp_path):
    p = read_protein(TINY)
    write_trajectory(tmp_path / "t.pdb", Trajectory(p, np.stack([p.positions] * 2), [0.0, 1.0]))
    lines = (tmp_path / "t.pdb").read_text().splitlines(True)
    second = [k for k, line in enumerate(lines) if line.startswith("MODEL")][1]
    dropped = lines[: second + 2] + lines[second + 3 :]  # model 2 loses its second atom
    (tmp_path / "short.pdb").write_text("".join(dropped))
    with pytest.raises(InputError, match=r"short\.pdb: model 2 has 10 atoms but model 1 has 11"):
        read_trajectory(tmp_path / "short.pdb")
    renamed = list(lines)
    renamed[second + 2] = renamed[second + 2].replace(" CA  MET", " CB  MET")
    (tmp_path / "renamed.pdb").write_text("".join(renamed))
    with pytest.raises(InputError, match=r"renamed\.pdb: model 2, atom 2: atom_name 'CB' differs"):
        read_trajectory(tmp_path / "renamed.pdb")
    extra = [line for line in lines if "TIME_PS" not in line]
    (tmp_path / "times.pdb").write_text("REMARK   1 TIME_PS 0.0\n" + "".join(extra))
    with pytest.raises(InputError, match="1 TIME_PS remarks for 2 models"):
        read_trajectory(tmp_path / "times.pdb")


def test_write_arguments_are_checked(tmp_path):
    p = read_protein(TINY)
    with pytest.raises(InputError, match=r"x\.cif: trajectories are written as PDB"):
        write_trajectory(tmp_path / "x.cif", Trajectory(p, p.positions[None], [0.0]))
    with pytest.raises(TypeError, match="Protein topology"):
        water = Molecule(numbers=[8], positions=[[0, 0, 0]])
        write_trajectory(tmp_path / "w.pdb", Trajectory(water, np.zeros((1, 1, 3)), [0.0]))
    with pytest.raises(InputError, match="unknown structure format '.txt'"):
        write_protein(tmp_path / "x.txt", p)
    two_char = read_protein(TINY)
    two_char.chain_ids = np.array(["AB"] * len(two_char))
    with pytest.raises(InputError, match=r"x\.pdb: cannot be written as PDB: Chain id"):
        write_protein(tmp_path / "x.pdb", two_char)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ bad input


def tiny_lines() -> list[str]:
    return TINY.read_text().splitlines(True)


def edit(line_number: int, *changes: tuple[int, int, str]) -> bytes:
    """tiny.pdb with columns ``start:end`` of one line replaced."""
    lines = tiny_lines()
    for start, end, new in changes:
        line = lines[line_number - 1]
        lines[line_number - 1] = line[:start] + new + line[end:]
    return "".join(lines).encode()


BAD_PDB = {
    "empty": (b"", None, "empty"),
    "garbage text": (b"hello world\nthis is not a structure\n", None, "no atoms"),
    "header only": (b"HEADER    NOTHING\nEND\n", None, "no atoms"),
    "water only": (b"".join(line.encode() for line in tiny_lines() if "HOH" in line), None, "no atoms besides water"),
    "binary garbage": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), 1, "not UTF-8"),
    "unknown element": (edit(3, (76, 78, "XX")), 3, "unknown element 'XX'"),
    "non-numeric coordinate": (edit(4, (38, 46, "   1.2.3")), 4, "non-numeric coordinate '1.2.3'"),
    "truncated atom line": (edit(5, (40, 200, "\n")), 5, "truncated ATOM record"),
    "no element to guess": (edit(6, (12, 16, " 9QQ"), (76, 78, "  ")), 6, "cannot tell the element of atom '9QQ'"),
}


@pytest.mark.parametrize("case", sorted(BAD_PDB))
def test_bad_pdb_is_input_error_naming_file_and_line(tmp_path, case):
    data, line, reason = BAD_PDB[case]
    assert_input_error(read_protein, tmp_path / "prot.pdb", data, line, reason)


def test_bad_mmcif_missing_and_corrupt_gzip(tmp_path):
    (tmp_path / "junk.cif").write_text("data_x\nloop_\n_atom_site.id\n_atom_site.Cartn_x\n1\n")
    with pytest.raises(InputError, match=r"junk\.cif: cannot parse as CIF"):
        read_protein(tmp_path / "junk.cif")
    p = read_protein(TINY)
    write_protein(tmp_path / "good.cif", p)
    lines = (tmp_path / "good.cif").read_text().splitlines()
    first = next(k for k, line in enumerate(lines) if line.startswith("ATOM"))
    tokens = lines[first].split()
    assert tokens[:3] == ["ATOM", "1", "N"]  # group, id, type_symbol
    lines[first] = " ".join(tokens[:2] + ["Qq"] + tokens[3:])
    (tmp_path / "elem.cif").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"elem\.cif: atom 1: unknown element 'Qq'"):
        read_protein(tmp_path / "elem.cif")
    with pytest.raises(InputError, match=r"none\.pdb: no such file"):
        read_protein(tmp_path / "none.pdb")
    data = gzip.compress(TINY.read_bytes())
    (tmp_path / "cut.pdb.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.pdb\.gz: corrupt gzip"):
        read_protein(tmp_path / "cut.pdb.gz")
    with pytest.raises(InputError, match=r"cut\.pdb\.gz: corrupt gzip"):
        read_trajectory(tmp_path / "cut.pdb.gz")
    with pytest.raises(InputError, match="no model 3"):
        read_protein(TINY, model_index=3)
