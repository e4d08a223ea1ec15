"""``gen3d symmetry``: detect and sbs print tables or JSON; bad input is one line on stderr with exit code 2."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gen3d.io.molecules import write_molecules
from gen3d.structures import Molecule
from gen3d.symmetry.shapes import benzene, methane
from gen3d_cli.app import app

runner = CliRunner()


def _xyz(tmp_path, name, numbers, positions):
    path = tmp_path / name
    write_molecules(path, [Molecule(numbers, positions, name=name.split(".")[0])])
    return str(path)


def test_detect_table_and_json(tmp_path):
    path = _xyz(tmp_path, "benzene.xyz", *benzene())
    res = runner.invoke(app, ["symmetry", "detect", path])
    assert res.exit_code == 0, res.output
    assert "D6h" in res.output and "24" in res.output
    res = runner.invoke(app, ["symmetry", "detect", path, "--json", "--tol", "0.1"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0]["group"] == "D6h" and len(rows[0]["operations"]) == 24


def test_sbs_for_a_symbol_and_for_a_file(tmp_path):
    res = runner.invoke(app, ["symmetry", "sbs", "D3h", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["size"] == 12 and info["ideal"] and info["normaliser"] == "D6h"
    assert info["stabilisers"] == ["C1"] and info["closed_under_group"] and info["closed_under_normaliser"]
    res = runner.invoke(app, ["symmetry", "sbs", _xyz(tmp_path, "methane.xyz", *methane()), "--target", "C3v"])
    assert res.exit_code == 0, res.output
    assert "Td" in res.output and "C3v" in res.output and "Oh" in res.output


@pytest.mark.parametrize("args, message", [
    (["symmetry", "sbs", "D3h", "--target", "C4v"], "not a subgroup"),
    (["symmetry", "sbs", "X9q"], "unknown point group"),
    (["symmetry", "detect", "{one}"], "at least 2"),
    (["symmetry", "detect", "{clash}"], "coincide"),
    (["symmetry", "detect", "{missing}"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    files = {
        "{one}": _xyz(tmp_path, "one.xyz", [6], [[0, 0, 0]]),
        "{clash}": _xyz(tmp_path, "clash.xyz", [6, 6, 1], np.array([[0, 0, 0], [0, 0, 0.01], [1, 0, 0]])),
        "{missing}": str(tmp_path / "missing.xyz"),
    }
    res = runner.invoke(app, [files.get(a, a) for a in args])
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1


def test_molecules_sample_with_symmetry_breaking_seed(tmp_path):
    from gen3d.io.molecules import read_molecules
    from tests.helpers import tiny_checkpoint

    ckpt = str(tiny_checkpoint(tmp_path / "ckpt"))
    seed = _xyz(tmp_path, "methane.xyz", *methane())
    out = tmp_path / "grown.xyz"
    args = ["molecules", "sample", "--n", "3", "--out", str(out), "--checkpoint", ckpt, "--device", "cpu", "--no-eval",
            "--no-valence-mask", "--symmetry-breaking", seed]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    mols = read_molecules(out)
    assert len(mols) == 3 and all(list(m.numbers[:5]) == [6, 1, 1, 1, 1] for m in mols)
    res = runner.invoke(app, args[:-1] + [_xyz(tmp_path, "atom.xyz", [6], [[0, 0, 0]])])
    assert res.exit_code == 2 and "at least 2" in res.stderr
