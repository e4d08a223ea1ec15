"""``gen3d dynamics``: md, rollout, evaluate and train end to end on tiny inputs; bad input exits 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mdtraj
import numpy as np
import pytest
from typer.testing import CliRunner

from gen3d.checkpoints import load_checkpoint, save_checkpoint
from gen3d_cli.app import app
from tests.dynamics_fixtures import ala2_md, tiny_equijump

runner = CliRunner()


@pytest.fixture(scope="module")
def md(tmp_path_factory):
    return ala2_md(tmp_path_factory.mktemp("md"), ns=0.01)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, md):
    return str(tiny_equijump(tmp_path_factory.mktemp("ck"), md))


def _gen3d(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gen3d_cli.app", *args], capture_output=True, text=True, env=env)


def _bad(res, message):
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.stderr, res.stderr


def test_md_command_writes_a_resumable_run(tmp_path):
    out = tmp_path / "md"
    args = ["dynamics", "md", "--sequence", "A", "--ns", "0.002", "--save-every", "0.5", "--seed", "3", "--platform", "Reference",
            "--out", str(out), "--json", str(tmp_path / "md.json")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "md.json").read_text())["frames"] == 4
    assert mdtraj.load(str(out / "frames.xtc"), top=str(out / "topology.pdb")).n_frames == 4
    again = runner.invoke(app, args)  # already complete: resumes and writes nothing new
    assert again.exit_code == 0 and mdtraj.load(str(out / "frames.xtc"), top=str(out / "topology.pdb")).n_frames == 4


def test_rollout_then_evaluate(ckpt, md, tmp_path):
    out = tmp_path / "roll"
    res = runner.invoke(app, ["dynamics", "rollout", "--checkpoint", ckpt, "--init", str(md / "system.pdb"), "--jumps", "3",
                              "--walkers", "2", "--out", str(out), "--seed", "1", "--device", "cpu", "--steps", "4"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tau_ps"] == 1.0 and meta["mode"] == "ode" and meta["steps_per_jump"] == 4 and meta["jumps_completed"] == 3
    assert meta["retries"] == 8 and meta["checks"]["proposals"] >= 6  # random weights: most proposals are rejected
    traj = mdtraj.load(str(out / "walker-001.xtc"), top=str(out / "topology.pdb"))
    assert traj.n_frames == 4 and list(traj.time) == [0.0, 1.0, 2.0, 3.0]
    assert mdtraj.load(str(out / "walker-000.pdb")).n_frames == 4
    js, plots = tmp_path / "m.json", tmp_path / "plots"
    res = runner.invoke(app, ["dynamics", "evaluate", str(out), "--reference", str(md), "--json", str(js), "--plots", str(plots)])
    assert res.exit_code == 0, res.output
    report = json.loads(js.read_text())
    assert report["n"] == 6 and report["trajectories"] == 2 and 0 <= report["metrics"]["js_phi_psi"] <= 0.7
    assert (plots / "phi_psi.png").stat().st_size > 1000


def test_rollout_with_projection_keeps_the_training_mean_bond_lengths(ckpt, md, tmp_path):
    out = tmp_path / "projected"
    res = runner.invoke(app, ["dynamics", "rollout", "--checkpoint", ckpt, "--init", str(md / "system.pdb"), "--jumps", "2",
                              "--walkers", "2", "--out", str(out), "--steps", "2", "--retries", "0", "--project", "--no-pdb"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["covalent_projection"] is True and meta["covalent_lengths"] == "training mean"
    traj = mdtraj.load(str(out / "walker-001.xtc"), top=str(out / "topology.pdb"))
    xyz = 10 * traj.xyz.astype(np.float64)  # Å
    geometry = load_checkpoint(ckpt, "equijump")[1]["data"]["covalent_geometry"]
    pairs, target = np.asarray(geometry["pairs"]), np.asarray(geometry["lengths"])
    d = np.linalg.norm(xyz[:, pairs[:, 0]] - xyz[:, pairs[:, 1]], axis=-1)
    assert np.abs(d[1:] - target).max() < 0.03  # random weights, yet every bond and angle distance is at its training mean (XTC rounds to 0.01 Å)


def test_bad_starts_are_refused(ckpt, md, tmp_path):
    text = (md / "system.pdb").read_text().splitlines(keepends=True)
    no_cb = tmp_path / "no_cb.pdb"
    no_cb.write_text("".join(line for line in text if not (line.startswith(("ATOM", "HETATM")) and line[12:16].strip() == "CB")))
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", ckpt, "--init", str(no_cb), "--jumps", "1", "--out", str(tmp_path / "o1")),
         "missing heavy atoms ALA2:CB")
    odd = tmp_path / "odd.pdb"
    odd.write_text("".join(line.replace("ALA", "DAL") for line in text))
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", ckpt, "--init", str(odd), "--jumps", "1", "--out", str(tmp_path / "o2")),
         "residues DAL")
    other = tmp_path / "other.pdb"
    other.write_text("".join(line for line in text if line[17:20] != "NME"))
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", ckpt, "--init", str(other), "--jumps", "1", "--out", str(tmp_path / "o3")),
         "does not match")
    empty = tmp_path / "empty.pdb"
    empty.write_text("")
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", ckpt, "--init", str(empty), "--jumps", "1", "--out", str(tmp_path / "o4")), "empty.pdb")


def test_nan_rollout_exits_2_and_keeps_the_frames_written(ckpt, md, tmp_path):
    state, card = load_checkpoint(ckpt, "equijump")
    state = {k: (v * float("nan") if k.startswith("head") else v) for k, v in state.items()}
    card.pop("sha256")
    broken = tmp_path / "nan"
    save_checkpoint(broken, state, card)
    out = tmp_path / "roll"
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", str(broken), "--init", str(md / "system.pdb"), "--jumps", "2",
                "--out", str(out)), "non-finite coordinates after jump 1")
    assert mdtraj.load(str(out / "walker-000.xtc"), top=str(out / "topology.pdb")).n_frames == 1
    assert json.loads((out / "meta.json").read_text())["jumps_completed"] == 0


def test_foreign_or_corrupt_checkpoints_and_bad_md_input(ckpt, md, tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("card.json", "model.safetensors"):
        (corrupt / name).write_bytes((__import__("pathlib").Path(ckpt) / name).read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"not weights")
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", str(corrupt), "--init", str(md / "system.pdb"), "--jumps", "1",
                "--out", str(tmp_path / "o")), "sha256")
    _bad(_gen3d("dynamics", "rollout", "--checkpoint", "symphony-qm9", "--init", str(md / "system.pdb"), "--jumps", "1",
                "--out", str(tmp_path / "o")), "equijump")
    _bad(_gen3d("dynamics", "md", "--sequence", "AZ", "--ns", "0.001", "--out", str(tmp_path / "m")), "unknown residue letters")
    _bad(_gen3d("dynamics", "md", "--ns", "0.001", "--out", str(tmp_path / "m")), "exactly one of --pdb and --sequence")
    _bad(_gen3d("dynamics", "evaluate", str(tmp_path / "none"), "--reference", str(md)), "no such file or folder")
