"""SDF reading/writing through RDKit: round trips, SD tags, determinism and every bad-file case."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from gen3d.io.errors import InputError
from gen3d.io.sdf import format_sdf, parse_sdf, read_sdf, write_sdf
from tests.helpers import assert_input_error
from gen3d.structures import Molecule
from gen3d.structures.rdkit import parse_property


def acetate() -> Molecule:
    """CH3-COO(-) with a double bond and a formal charge, hydrogens explicit."""
    positions = [
        [0.000, 0.000, 0.000], [1.520, 0.000, 0.000], [2.150, 1.080, 0.000], [2.150, -1.080, 0.000],
        [-0.360, 1.030, 0.000], [-0.360, -0.515, 0.892], [-0.360, -0.515, -0.892],
    ]
    bonds = [[0, 1, 1], [1, 2, 2], [1, 3, 1], [0, 4, 1], [0, 5, 1], [0, 6, 1]]
    return Molecule(
        numbers=[6, 6, 8, 8, 1, 1, 1], positions=positions, bonds=bonds, charges=[0, 0, 0, -1, 0, 0, 0],
        name="acetate anion", properties={"valid": True, "num_rings": 0, "energy": -12.345678901, "tag": "a b"},
    )


def benzene_ring() -> Molecule:
    """Six aromatic carbons (bond order 4), no hydrogens: odd valence that must still load."""
    angles = np.arange(6) * np.pi / 3
    positions = np.stack([1.39 * np.cos(angles), 1.39 * np.sin(angles), np.zeros(6)], axis=1)
    return Molecule(numbers=[6] * 6, positions=positions, bonds=[[k, (k + 1) % 6, 4] for k in range(6)], name="ring")


def assert_same(a: Molecule, b: Molecule) -> None:
    np.testing.assert_array_equal(a.numbers, b.numbers)
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-4)
    np.testing.assert_array_equal(a.bonds, b.bonds)
    assert a.name == b.name


@pytest.mark.parametrize("name", ["mols.sdf", "mols.sdf.gz"])
def test_round_trip_bonds_charges_names_tags(tmp_path, name):
    path = tmp_path / name
    mols = [acetate(), benzene_ring()]
    write_sdf(path, mols)
    back = read_sdf(path)
    assert len(back) == 2
    for a, b in zip(mols, back):
        assert_same(a, b)
    np.testing.assert_array_equal(back[0].charges, [0, 0, 0, -1, 0, 0, 0])
    np.testing.assert_array_equal(back[1].charges, np.zeros(6))
    assert back[0].properties == acetate().properties
    assert isinstance(back[0].properties["valid"], bool) and isinstance(back[0].properties["num_rings"], int)
    assert back[1].properties == {}


def test_molecule_without_bonds_and_odd_valence_loads(tmp_path):
    path = tmp_path / "odd.sdf"
    bonds = [[0, k, 1] for k in range(1, 6)]
    pentavalent = Molecule(numbers=[6, 1, 1, 1, 1, 1], positions=np.eye(6, 3) * 1.1, bonds=bonds)
    bare = Molecule(numbers=[6, 8], positions=[[0, 0, 0], [0, 0, 1.2]], name="no bonds")
    write_sdf(path, [pentavalent, bare])
    back = read_sdf(path)
    np.testing.assert_array_equal(back[0].bonds, pentavalent.bonds)
    assert back[1].bonds.shape == (0, 3) and back[1].name == "no bonds"


def test_writer_is_byte_deterministic(tmp_path):
    for name in ("a.sdf", "a.sdf.gz"):
        write_sdf(tmp_path / name, [acetate(), benzene_ring()])
        first = (tmp_path / name).read_bytes()
        write_sdf(tmp_path / name, [acetate(), benzene_ring()])
        assert (tmp_path / name).read_bytes() == first
    assert gzip.decompress((tmp_path / "a.sdf.gz").read_bytes()) == (tmp_path / "a.sdf").read_bytes()


def test_reads_rdkit_written_file_with_aromatic_bonds(tmp_path):
    m = Chem.AddHs(Chem.MolFromSmiles("c1ccccc1O"))
    AllChem.Compute2DCoords(m)
    m.SetProp("_Name", "phenol")
    m.SetProp("score", "0.5")
    with Chem.SDWriter(str(tmp_path / "rd.sdf")) as writer:
        writer.SetKekulize(False)
        writer.write(m)
    (mol,) = read_sdf(tmp_path / "rd.sdf")
    assert mol.name == "phenol" and mol.properties == {"score": 0.5}
    assert len(mol) == m.GetNumAtoms() and sorted(set(mol.bonds[:, 2].tolist())) == [1, 4]


def test_tag_values_and_bad_tags():
    assert [parse_property(t) for t in ("True", "7", "-0.25", "007", "1E5", "x")] == [True, 7, -0.25, "007", "1E5", "x"]
    with pytest.raises(ValueError, match="tag name"):
        format_sdf(Molecule(numbers=[1], positions=[[0, 0, 0]], properties={"a<b": 1}))
    with pytest.raises(ValueError, match="may not start with"):
        format_sdf(Molecule(numbers=[1], positions=[[0, 0, 0]], properties={"a": "x\n$$$$"}))
    text = format_sdf(Molecule(numbers=[1], positions=[[0, 0, 0]], properties={"a": "x\n\ny\n", "b": ""}))
    assert parse_sdf(text)[0].properties == {"a": "x\ny", "b": ""}


# ------------------------------------------------------------------------------------------ bad input


def good_text() -> str:
    return format_sdf(acetate()) + format_sdf(benzene_ring())


def replace_line(text: str, line: int, new: str) -> bytes:
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines).encode()


def bad_cases() -> dict[str, tuple[bytes, int | None, str]]:
    """name -> (file bytes, line the error must name, text the message must contain)."""
    text = good_text()
    lines = text.split("\n")
    n1 = format_sdf(acetate()).count("\n")  # record 1 is lines 1..n1; its atoms are lines 5..11, bonds 12..17
    n2 = format_sdf(benzene_ring()).count("\n")
    atom = lines[5]  # line 6
    v3000 = "bad\n\n\n  0  0  0  0  0  0  0  0  0  0999 V3000\nM  V30 BEGIN NONSENSE\nM  END\n$$$$\n"
    q_atom = "    1.0000    0.0000    0.0000 Q   0  0"
    return {
        "empty": (b"", None, "empty"),
        "header only": (b"title\n\n", 4, "record 1: truncated record (ends before its counts line)"),
        "truncated in atom block": ("\n".join(lines[: n1 + 7]).encode(), n1 + 8, "record 2: truncated record"),
        "truncated before M END": (text[: text.index("M  END")].encode(), 18, "record 1: truncated record (no 'M  END"),
        "unknown element": (replace_line(text, 6, atom[:31] + "Xx " + atom[34:]), 6, "unknown element 'Xx'"),
        "unknown element, record 2": (replace_line(text, n1 + 6, q_atom), n1 + 6, "record 2: unknown element 'Q'"),
        "non-numeric coordinate": (replace_line(text, 6, "   abc.def" + atom[10:]), 6, "non-numeric coordinate"),
        "bad counts line": (replace_line(text, 4, "  x  y"), 4, "bad counts line"),
        "bond to missing atom": (replace_line(text, 12, " 1 99  1  0"), 12, "bond joins atoms 1 and 99"),
        "rdkit rejects V3000 garbage": ((text + v3000).encode(), n1 + n2 + 1, "record 3: RDKit cannot parse"),
        "non-UTF-8": (("caf\xe9 " + text).encode("latin-1"), 1, "not UTF-8"),
        "binary garbage": (b"\x00\x01\x02\xff\xfe" * 100, 1, "binary"),
    }


@pytest.mark.parametrize("case", sorted(bad_cases()))
def test_bad_sdf_is_input_error_naming_file_and_line(tmp_path, case):
    data, line, reason = bad_cases()[case]
    assert_input_error(read_sdf, tmp_path / "mols.sdf", data, line, reason)


def test_missing_and_corrupt_gzip(tmp_path):
    with pytest.raises(InputError, match=r"gone\.sdf: no such file"):
        read_sdf(tmp_path / "gone.sdf")
    data = gzip.compress(good_text().encode())
    (tmp_path / "cut.sdf.gz").write_bytes(data[:-30])
    with pytest.raises(InputError, match=r"cut\.sdf\.gz: corrupt gzip"):
        read_sdf(tmp_path / "cut.sdf.gz")


def test_parse_reports_record_start_line():
    text = format_sdf(acetate())
    start = len(text.split("\n"))  # record 2 starts on the line after record 1's $$$$
    atoms = "  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000    0.0000 Zz  0  0\n"
    broken = text + "x\n\n\n" + atoms + "M  END\n$$$$\n"
    with pytest.raises(InputError, match=rf"<string>, line {start + 4}: record 2: unknown element 'Zz'"):
        parse_sdf(broken)
