"""Packed MD sets: thinned runs under one topology load back frame for frame; foreign runs and a bad native are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gen3d.data.md_archive import pack_runs, protocol_of, verify_set
from gen3d.data.md_frames import load_trajectories, match_atoms
from gen3d.io.errors import InputError
from gen3d.md import build_capped_peptide, simulate
from gen3d_cli.app import app
from tests.dynamics_fixtures import ala2_md

runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return [ala2_md(root / f"s{seed}", ns=0.005, seed=seed) for seed in (1, 2)]


def test_pack_keeps_every_nth_frame_of_each_run(runs, tmp_path):
    manifest = pack_runs(runs, tmp_path / "set", every=2)
    packed = load_trajectories(tmp_path / "set")
    originals = [load_trajectories(r).trajectories[0] for r in runs]
    assert [r["file"] for r in manifest["runs"]] == ["run-s1.xtc", "run-s2.xtc"]
    assert len(packed.trajectories) == 2
    for got, full in zip(packed.trajectories, originals):
        np.testing.assert_allclose(got, full[::2], atol=6e-3)  # XTC keeps 0.001 nm
    assert packed.dt_ps == pytest.approx(1.0)  # 0.5 ps frames, every second kept
    assert manifest["runs"][0]["request"]["seed"] == 1 and manifest["total_ns"] == pytest.approx(0.01)
    assert verify_set(tmp_path / "set") == []
    (tmp_path / "set" / "run-s2.xtc").write_bytes(b"tampered")
    assert verify_set(tmp_path / "set") == ["run-s2.xtc"]


def test_a_set_loads_its_runs_in_packing_order(runs, tmp_path):
    # The default native of an evaluation is the reference's first frame: adding runs to a set must
    # not change which run comes first, whatever the file names sort to.
    pack_runs([runs[1]], tmp_path / "set")
    pack_runs([runs[0]], tmp_path / "set")
    packed = load_trajectories(tmp_path / "set")
    np.testing.assert_allclose(packed.trajectories[0], load_trajectories(runs[1]).trajectories[0], atol=6e-3)
    (tmp_path / "set" / "manifest.json").write_text("[]")
    with pytest.raises(InputError, match="manifest"):
        load_trajectories(tmp_path / "set")


def test_the_protocol_is_read_from_runs_and_sets_and_dropped_when_they_differ(runs, tmp_path):
    # Cards take the MD protocol from the data they were trained on, whether run folders or packed sets.
    pack_runs(runs, tmp_path / "set")
    expected = json.loads((runs[0] / "meta.json").read_text())["request"]["protocol"]
    assert expected["forcefield"] and protocol_of([runs[0]]) == expected
    assert protocol_of([tmp_path / "set", runs[1]]) == expected
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    manifest["runs"][1]["request"]["protocol"] = {**expected, "temperature_k": 350.0}
    (tmp_path / "set" / "manifest.json").write_text(json.dumps(manifest))
    assert protocol_of([tmp_path / "set"]) == {}


def test_adding_a_run_of_another_system_is_refused(runs, tmp_path):
    pack_runs(runs[:1], tmp_path / "set")
    other = tmp_path / "gly"
    simulate(build_capped_peptide("G"), other, 0.002, 0.5, seed=1, platform="Reference", equilibration_ps=0.5)
    with pytest.raises(InputError, match="differ from the set's topology"):
        pack_runs([other], tmp_path / "set")
    assert json.loads((tmp_path / "set" / "manifest.json").read_text())["total_ns"] == pytest.approx(0.005)


def test_native_atoms_are_matched_by_residue_and_name(runs):
    data = load_trajectories(runs[0])
    top = data.topology
    order = np.random.default_rng(0).permutation(len(top))
    shuffled = type(top)(top.residue_names[order], top.atom_names[order], top.elements[order], top.residue_index[order])
    picked = match_atoms(shuffled, top)
    assert picked is not None
    np.testing.assert_array_equal(order[picked], np.arange(len(top)))
    missing = type(top)(top.residue_names[1:], top.atom_names[1:], top.elements[1:], top.residue_index[1:])
    assert match_atoms(missing, top) is None


def test_pack_command_and_evaluate_against_the_set(runs, tmp_path):
    res = runner.invoke(app, ["dynamics", "pack", *map(str, runs), "--out", str(tmp_path / "set"), "--json", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    assert len(json.loads((tmp_path / "m.json").read_text())["runs"]) == 2
    res = runner.invoke(app, ["dynamics", "evaluate", str(runs[0]), "--reference", str(tmp_path / "set"),
                              "--native", str(runs[1] / "system.pdb"), "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "e.json").read_text())["metrics"]["physical_frames"] == 1.0


def test_replicas_run_in_parallel_processes_and_load_as_one_reference(tmp_path):
    out = tmp_path / "reps"
    res = runner.invoke(app, ["dynamics", "md", "--sequence", "A", "--ns", "0.001", "--save-every", "0.5", "--seed", "4",
                              "--replicas", "2", "--jobs", "2", "--platform", "Reference", "--out", str(out), "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    runs = json.loads((tmp_path / "r.json").read_text())["runs"]
    assert [r["frames"] for r in runs] == [2, 2] and sorted(p.name for p in out.iterdir()) == ["seed-4", "seed-5"]
    assert json.loads((out / "seed-5" / "meta.json").read_text())["request"]["seed"] == 5
    both = load_trajectories(out)
    assert len(both.trajectories) == 2 and not np.allclose(both.trajectories[0], both.trajectories[1])


def test_a_bad_replica_input_exits_2_with_its_message(tmp_path):
    res = runner.invoke(app, ["dynamics", "md", "--sequence", "AZ", "--ns", "0.001", "--replicas", "2", "--jobs", "2", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "unknown residue letters" in res.output
