"""XYZ reading/writing, extension dispatch and the all-or-nothing streaming MoleculeWriter."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from gen3d.io.errors import InputError
from gen3d.io.molecules import MoleculeWriter, read_molecules, write_molecules
from gen3d.io.xyz import format_xyz, parse_xyz, read_xyz, write_xyz
from tests.helpers import assert_input_error
from gen3d.structures import Molecule


def water(name: str = "water", shift: float = 0.0) -> Molecule:
    positions = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]]) + shift
    return Molecule(numbers=[8, 1, 1], positions=positions, name=name)


def methane() -> Molecule:
    d = 0.6291
    positions = [[0, 0, 0], [d, d, d], [-d, -d, d], [-d, d, -d], [d, -d, -d]]
    return Molecule(numbers=[6, 1, 1, 1, 1], positions=positions, bonds=[[0, k, 1] for k in range(1, 5)], name="CH4")


def assert_same_atoms(a: Molecule, b: Molecule) -> None:
    np.testing.assert_array_equal(a.numbers, b.numbers)
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-4)


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("name", ["frames.xyz", "frames.xyz.gz"])
def test_multi_frame_round_trip(tmp_path, name):
    mols = [water("first frame", 0.0), methane(), water("", 12.3456789)]
    path = tmp_path / name
    write_xyz(path, mols)
    back = read_xyz(path)
    assert [m.name for m in back] == ["first frame", "CH4", ""]
    for a, b in zip(mols, back):
        assert_same_atoms(a, b)
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_format_and_parse_tolerate_numbers_blank_lines_and_extra_columns():
    text = "2\nco\n6 0 0 0 0.1\n8 0 0 1.128 0.2\n\n1\nlone h\nh 1.0 2.0 3.0\n\n\n"
    mols = parse_xyz(text, "inline.xyz")
    assert [m.numbers.tolist() for m in mols] == [[6, 8], [1]]
    assert mols[1].name == "lone h"
    np.testing.assert_allclose(mols[1].positions, [[1.0, 2.0, 3.0]])
    assert format_xyz(water("a\nb")).split("\n")[1] == "a b"


def test_read_and_write_molecules_dispatch_on_extension(tmp_path):
    for suffix in (".xyz", ".sdf", ".xyz.gz", ".sdf.gz"):
        path = tmp_path / f"m{suffix}"
        assert write_molecules(path, [water(), methane()]) == 2
        back = read_molecules(path)
        assert [m.name for m in back] == ["water", "CH4"]
        assert_same_atoms(back[1], methane())
    with pytest.raises(InputError, match=r"m\.txt.*unknown molecule format"):
        read_molecules(tmp_path / "m.txt")


# ------------------------------------------------------------------------------------------ atomic writes


@pytest.mark.parametrize("suffix", [".xyz", ".sdf", ".sdf.gz"])
def test_streaming_writer_commits_only_on_clean_close(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with MoleculeWriter(path) as writer:
        writer.write(water())
        assert not path.exists()  # nothing visible until the block ends
        writer.write(methane())
    assert writer.count == 2 and writer.closed
    assert [m.name for m in read_molecules(path)] == ["water", "CH4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("suffix", [".xyz", ".sdf.gz"])
def test_exception_mid_write_leaves_no_file(tmp_path, suffix):
    path = tmp_path / f"new{suffix}"
    with pytest.raises(RuntimeError, match="sampler crashed"):
        with MoleculeWriter(path) as writer:
            writer.write(water())
            raise RuntimeError("sampler crashed")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_exception_mid_write_keeps_old_content(tmp_path):
    path = tmp_path / "old.xyz"
    write_xyz(path, [water("old")])
    before = path.read_bytes()

    def molecules():
        yield methane()
        raise KeyboardInterrupt  # e.g. Ctrl-C during sampling

    with pytest.raises(KeyboardInterrupt):
        write_molecules(path, molecules())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["old.xyz"]


def test_abort_and_bad_molecule_discard_everything(tmp_path):
    path = tmp_path / "a.xyz"
    writer = MoleculeWriter(path)
    writer.write(water())
    writer.abort()
    assert not path.exists() and writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.write(water())
    with pytest.raises(ValueError, match="atomic number 0"):
        write_molecules(path, [water(), Molecule(numbers=[0], positions=[[0, 0, 0]])])
    assert list(tmp_path.iterdir()) == []


def test_mol_file_holds_one_molecule(tmp_path):
    path = tmp_path / "one.mol"
    with pytest.raises(InputError, match=r"one\.mol: a \.mol file holds one molecule"):
        write_molecules(path, [water(), water()])
    assert not path.exists()
    write_molecules(path, [methane()])
    assert_same_atoms(read_molecules(path)[0], methane())


# ------------------------------------------------------------------------------------------ bad input


BAD_XYZ = {
    "empty": (b"", None, "empty"),
    "blank": (b"  \n\n", None, "empty"),
    "more atoms than declared": (b"1\nc\nC 0 0 0\nH 1 0 0\n", 4, "expected an atom count"),
    "fewer atoms, end of file": (b"3\nc\nC 0 0 0\nH 1 0 0\n", 5, "file ends after 2 of the 3 atoms"),
    "fewer atoms, next frame": (b"3\nc\nC 0 0 0\n1\nd\nH 0 0 0\n", 4, "fewer atom lines than declared"),
    "unknown element": (b"2\nc\nC 0 0 0\nXx 1 0 0\n", 4, "unknown element 'Xx'"),
    "atomic number out of range": (b"1\nc\n300 0 0 0\n", 3, "unknown element '300'"),
    "non-numeric coordinate": (b"1\nc\nC 0.0 abc 0.0\n", 3, "non-numeric coordinate 'abc'"),
    "nan coordinate": (b"1\nc\nC 0.0 nan 0.0\n", 3, "non-finite coordinate"),
    "missing columns": (b"1\nc\nC 0.0 0.0\n", 3, "expected 'element x y z'"),
    "no count line": (b"C 0 0 0\n", 1, "expected an atom count"),
    "non-UTF-8": (b"1\ncaf\xe9\nC 0 0 0\n", 2, "not UTF-8"),
    "binary garbage": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, 1, "binary"),
    "NUL bytes": (b"1\nc\x00\nC 0 0 0\n", 2, "NUL"),
}


@pytest.mark.parametrize("case", sorted(BAD_XYZ))
def test_bad_xyz_is_input_error_naming_file_and_line(tmp_path, case):
    data, line, reason = BAD_XYZ[case]
    message = assert_input_error(read_xyz, tmp_path / "bad.xyz", data, line, reason)
    if line is not None:
        assert f"line {line}:" in message


def test_missing_file_directory_and_corrupt_gzip(tmp_path):
    with pytest.raises(InputError, match=r"nope\.xyz: no such file"):
        read_xyz(tmp_path / "nope.xyz")
    with pytest.raises(InputError, match="directory"):
        read_xyz(tmp_path)
    good = gzip.compress(b"1\nc\nC 0 0 0\n" * 50)
    (tmp_path / "cut.xyz.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match=r"cut\.xyz\.gz: corrupt gzip"):
        read_xyz(tmp_path / "cut.xyz.gz")
    (tmp_path / "flipped.xyz.gz").write_bytes(good[:20] + bytes(b ^ 0xFF for b in good[20:40]) + good[40:])
    with pytest.raises(InputError, match=r"flipped\.xyz\.gz: corrupt gzip"):
        read_xyz(tmp_path / "flipped.xyz.gz")
    (tmp_path / "plain.xyz.gz").write_bytes(b"1\nc\nC 0 0 0\n")
    with pytest.raises(InputError, match="not gzip-compressed"):
        read_xyz(tmp_path / "plain.xyz.gz")


def test_input_error_forms():
    err = InputError("dir/mols.sdf", "unknown element 'Xx'\n(more detail)", 12)
    assert str(err) == "dir/mols.sdf, line 12: unknown element 'Xx' (more detail)"
    assert (err.path, err.line) == ("dir/mols.sdf", 12) and isinstance(err, ValueError)
    assert str(pickle.loads(pickle.dumps(err))) == str(err)
    assert str(InputError("--reference must be 'qm9' or 'none'")) == "--reference must be 'qm9' or 'none'"
