"""The ``gen3d`` CLI: sampling to files, byte-identical reruns, exit codes and one-line errors."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gen3d_cli.app import app
from tests.helpers import tiny_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(tiny_checkpoint(tmp_path_factory.mktemp("ckpt")))


def _gen3d(*args):
    """Run the real console entry point in a subprocess (exit code and stderr as a user sees them)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gen3d_cli.app", *args], capture_output=True, text=True, env=env)


def test_sample_is_byte_identical_for_the_same_seed(ckpt, tmp_path):
    outs = []
    for name in ("a.sdf", "b.sdf"):
        res = runner.invoke(app, ["molecules", "sample", "--n", "5", "--out", str(tmp_path / name), "--seed", "7",
                                  "--checkpoint", ckpt, "--device", "cpu", "--no-eval"])
        assert res.exit_code == 0, res.output
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].count(b"$$$$") == 5
    assert b"<valid>" in outs[0]


def test_sample_xyz_with_summary_and_json(ckpt, tmp_path):
    out, js = tmp_path / "m.xyz", tmp_path / "m.json"
    res = runner.invoke(app, ["molecules", "sample", "--n", "3", "--out", str(out), "--checkpoint", ckpt, "--json", str(js)])
    assert res.exit_code == 0, res.output
    assert "validity" in res.output
    report = json.loads(js.read_text())
    assert report["n"] == 3 and "validity" in report["metrics"] and len(report["per_item"]) == 3


def test_evaluate_json(tmp_path):
    sdf = tmp_path / "water.sdf"
    from gen3d.io.molecules import write_molecules
    from gen3d.structures import Molecule

    water = Molecule([8, 1, 1], [[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]])
    write_molecules(sdf, [water, water])
    res = runner.invoke(app, ["molecules", "evaluate", str(sdf), "--json", str(tmp_path / "r.json"),
                              "--reference", "none", "--no-posebusters"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["metrics"]["validity"] == 1.0
    assert report["metrics"]["uniqueness"] == 0.5


BAD_FILES = {
    "empty.sdf": b"",
    "truncated.sdf": b"mol\n  RDKit 3D\n\n  3  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000    0.0000 C   0\n",
    "unknown.xyz": b"2\nx\nXx 0 0 0\nC 1 1 1\n",
    "lying.xyz": b"5\nx\nC 0 0 0\nC 1.5 0 0\n",
    "garbage.sdf": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_evaluate_bad_input_exits_2_with_one_line(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    res = _gen3d("molecules", "evaluate", str(path), "--reference", "none", "--no-posebusters")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in res.stderr


def test_corrupt_checkpoint_exits_2(ckpt, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(ckpt, bad)
    (bad / "model.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    res = _gen3d("molecules", "sample", "--n", "1", "--out", str(tmp_path / "x.sdf"), "--checkpoint", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error:")
    assert not (tmp_path / "x.sdf").exists()


def test_unknown_checkpoint_and_bad_device(tmp_path):
    res = _gen3d("molecules", "sample", "--n", "1", "--out", str(tmp_path / "x.sdf"), "--checkpoint", "no-such-model")
    assert res.returncode == 2 and "not found" in res.stderr
    res = _gen3d("molecules", "sample", "--n", "1", "--out", str(tmp_path / "x.sdf"), "--device", "gpu")
    assert res.returncode == 2 and "unknown device" in res.stderr and "Traceback" not in res.stderr


def test_checkpoints_list():
    res = runner.invoke(app, ["checkpoints", "list"])
    assert res.exit_code == 0 and "symphony-qm9" in res.output
