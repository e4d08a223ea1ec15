"""Reference MD: the native OBC2 force matches implicit/obc2.xml, peptides build, runs resume exactly."""

from __future__ import annotations

import json

import mdtraj
import numpy as np
import pytest

import gen3d.md.runner as runner
from gen3d.md import MDProtocol, build_capped_peptide, simulate
from gen3d.md.system import MDInputError, simulation_for
from tests.dynamics_fixtures import ala2_md


def _energy_forces(topology, positions, kernel):
    sim = simulation_for(topology, positions, MDProtocol(gb_kernel=kernel), 0, "Reference")
    state = sim.context.getState(getEnergy=True, getForces=True)
    return state.getPotentialEnergy()._value, state.getForces(asNumpy=True)._value


def test_native_obc2_matches_the_custom_force():
    top, pos = build_capped_peptide("AY")
    e_custom, f_custom = _energy_forces(top, pos, "custom")
    e_native, f_native = _energy_forces(top, pos, "native")
    assert e_native == pytest.approx(e_custom, abs=1e-3)  # kJ/mol
    assert np.abs(f_native - f_custom).max() < 1e-2 * max(1.0, np.abs(f_custom).max() * 1e-4)


def test_capped_peptides_have_caps_side_chains_and_l_chirality():
    top, pos = build_capped_peptide("AW")
    names = [r.name for r in top.residues()]
    assert names == ["ACE", "ALA", "TRP", "NME"]
    heavy = [a for a in top.atoms() if a.element.symbol != "H"]
    assert len(heavy) == 3 + 5 + 14 + 2
    xyz = np.array(pos._value) * 10
    atom = {(a.residue.index, a.name): a.index for a in top.atoms()}
    c, n, ca, cb = (xyz[atom[(1, k)]] for k in ("C", "N", "CA", "CB"))
    t = mdtraj.compute_dihedrals(mdtraj.Trajectory(np.stack([c, n, ca, cb])[None] / 10, None), [[0, 1, 2, 3]])[0, 0]
    assert -130 < np.degrees(t) < -110  # C-N-CA-CB of an L residue
    with pytest.raises(ValueError, match="unknown residue letters"):
        build_capped_peptide("AXB")


def test_run_writes_readable_frames_forces_and_metadata(tmp_path):
    out = ala2_md(tmp_path / "md", ns=0.005)
    traj = mdtraj.load(str(out / "frames.xtc"), top=str(out / "topology.pdb"))
    assert traj.n_frames == 10 and traj.n_atoms == 10
    assert np.allclose(np.diff(traj.time), 0.5)
    forces = np.load(out / "forces.npy")
    assert forces.shape == (10, 10, 3) and np.isfinite(forces).all() and np.abs(forces).max() > 1.0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["frames"] == 10 and meta["request"]["protocol"]["forcefield"] == ["amber14-all.xml", "implicit/obc2.xml"]


def test_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "CHUNK_FRAMES", 3)
    calls = {"n": 0}

    def stop(done, total):
        calls["n"] += 1
        if calls["n"] == 4:  # after the first chunk was flushed
            raise KeyboardInterrupt

    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        simulate(build_capped_peptide("A"), cut, 0.004, 0.5, seed=1, platform="Reference", equilibration_ps=1.0, on_frames=stop)
    before = mdtraj.load(str(cut / "frames.xtc"), top=str(cut / "topology.pdb"))
    assert before.n_frames == 3
    simulate(build_capped_peptide("A"), cut, 0.004, 0.5, seed=1, platform="Reference", equilibration_ps=1.0)
    after = mdtraj.load(str(cut / "frames.xtc"), top=str(cut / "topology.pdb"))
    assert after.n_frames == 8 and np.allclose(after.time, 0.5 * np.arange(1, 9))  # the clock continues from the checkpoint
    np.testing.assert_array_equal(after.xyz[:3], before.xyz)  # frames written before the interruption are kept as they were
    assert np.load(cut / "forces.npy").shape == (8, 10, 3)


def test_a_folder_with_other_settings_is_refused(tmp_path):
    out = ala2_md(tmp_path / "md", ns=0.002)
    with pytest.raises(MDInputError, match="other settings"):
        simulate(build_capped_peptide("A"), out, 0.004, 0.5, seed=1, platform="Reference")
