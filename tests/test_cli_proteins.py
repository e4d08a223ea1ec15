"""``gen3d proteins``: reconstruct and interpolate with a random-weight checkpoint; bad input exits 2 with one line."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gen3d.io.pdb import read_protein, read_trajectory
from gen3d_cli.app import app
from tests.helpers import tiny_checkpoint
from tests.protein_fixtures import dssp_chain, tiny_autoencoder

runner = CliRunner()


@pytest.fixture(scope="module")
def ae(tmp_path_factory):
    return str(tiny_autoencoder(tmp_path_factory.mktemp("ae")))


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdb") / "4gcnA.pdb"
    path.write_bytes(gzip.decompress(dssp_chain("4gcnA").read_bytes()))
    return path


def _gen3d(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gen3d_cli.app", *args], capture_output=True, text=True, env=env)


def test_reconstruct_writes_named_atoms_and_reports_errors(ae, chain, tmp_path):
    out, js = tmp_path / "out.pdb", tmp_path / "r.json"
    res = runner.invoke(app, ["proteins", "reconstruct", str(chain), "--out", str(out), "--checkpoint", ae, "--device", "cpu", "--json", str(js)])
    assert res.exit_code == 0, res.output
    report = json.loads(js.read_text())
    assert set(report["metrics"]) >= {"ca_rmsd", "all_atom_rmsd", "gdt_ts", "recovery"}
    decoded, original = read_protein(out), read_protein(chain)
    assert decoded.num_residues == original.num_residues
    assert list(decoded.residue_numbers[decoded.atom_names == "CA"]) == list(original.residue_numbers[original.atom_names == "CA"])
    assert (decoded.atom_names == "OXT").sum() == 1


def test_interpolate_writes_every_frame_with_baseline(ae, chain, tmp_path):
    out, js = tmp_path / "path.pdb", tmp_path / "p.json"
    res = runner.invoke(app, ["proteins", "interpolate", str(chain), str(chain), "--frames", "4", "--out", str(out),
                              "--checkpoint", ae, "--device", "cpu", "--json", str(js)])
    assert res.exit_code == 0, res.output
    assert len(read_trajectory(out).frames) == 4
    rows = json.loads(js.read_text())["per_item"]
    assert [r["frame"] for r in rows] == [0, 1, 2, 3] and rows[0]["cartesian"]["rmsd_to_start"] == pytest.approx(0, abs=1e-4)


def _bad(args, tmp_path, message):
    res = _gen3d(*args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.stderr
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


def test_bad_structures_give_one_line_and_no_output(ae, chain, tmp_path):
    empty = tmp_path / "empty.pdb"
    empty.write_text("")
    _bad(["proteins", "reconstruct", str(empty), "--out", str(tmp_path / "out.pdb"), "--checkpoint", ae], tmp_path, "empty")
    truncated = tmp_path / "trunc.pdb"
    truncated.write_text(chain.read_text()[:3000].rsplit("\n", 1)[0][:40] + "\n")
    _bad(["proteins", "reconstruct", str(truncated), "--out", str(tmp_path / "out.pdb"), "--checkpoint", ae], tmp_path, "trunc.pdb")
    ligand = tmp_path / "ligand.pdb"
    ligand.write_text("HETATM    1  C1  LIG A   1       0.000   0.000   0.000  1.00  0.00           C\nEND\n")
    _bad(["proteins", "reconstruct", str(ligand), "--out", str(tmp_path / "out.pdb"), "--checkpoint", ae], tmp_path, "no protein chain")
    lines = chain.read_text().splitlines(keepends=True)
    unknown = tmp_path / "unknown.pdb"
    unknown.write_text("".join(l.replace("LYS", "XYZ") for l in lines))
    _bad(["proteins", "reconstruct", str(unknown), "--out", str(tmp_path / "out.pdb"), "--checkpoint", ae], tmp_path, "non-standard residue XYZ")
    nobb = tmp_path / "nobb.pdb"
    nobb.write_text("".join(l for l in lines if not (l.startswith("ATOM") and l[22:26] == "  10" and l[12:16].strip() == "N")))
    _bad(["proteins", "reconstruct", str(nobb), "--out", str(tmp_path / "out.pdb"), "--checkpoint", ae], tmp_path, "no backbone N")


def test_interpolate_linear_path_without_refinement_and_an_unknown_path(ae, chain, tmp_path):
    out, js = tmp_path / "raw.pdb", tmp_path / "raw.json"
    res = runner.invoke(app, ["proteins", "interpolate", str(chain), str(chain), "--frames", "3", "--out", str(out),
                              "--checkpoint", ae, "--path", "linear", "--refine-steps", "0", "--json", str(js)])
    assert res.exit_code == 0, res.output
    metrics = json.loads(js.read_text())["metrics"]
    assert metrics["path"] == "linear" and metrics["refine_steps"] == 0 and "latent_clash_within_tolerance" in metrics
    _bad(["proteins", "interpolate", str(chain), str(chain), "--frames", "3", "--out", str(tmp_path / "x.pdb"), "--checkpoint", ae,
          "--path", "spline"], tmp_path, "unknown --path")


def test_interpolate_refuses_different_sequences(ae, chain, tmp_path):
    other = tmp_path / "other.pdb"
    other.write_bytes(gzip.decompress(dssp_chain("3aqgA").read_bytes()))
    _bad(["proteins", "interpolate", str(chain), str(other), "--frames", "3", "--out", str(tmp_path / "out.pdb"), "--checkpoint", ae],
         tmp_path, "sequence differs")


def test_wrong_kind_of_checkpoint_is_refused(chain, tmp_path):
    symphony = tiny_checkpoint(tmp_path / "ckpt")
    _bad(["proteins", "reconstruct", str(chain), "--out", str(tmp_path / "out.pdb"), "--checkpoint", str(symphony)], tmp_path, "not 'ophiuchus'")
