"""Dynamics metrics: dihedrals against mdtraj, JS divergence bounds, basins, Rg/RMSD/Q, bond sanity, TICA."""

from __future__ import annotations

import mdtraj
import numpy as np
import pytest

from gen3d.data.md_frames import MDTrajectories, load_trajectories
from gen3d.metrics.dynamics import evaluate_dynamics
from gen3d.metrics.dynamics_distributions import basin_populations, js_1d, js_2d, js_divergence
from gen3d.metrics.dynamics_observables import (
    backbone_quads, bonded_pairs, dihedrals, fraction_native_contacts, native_contact_pairs, physical_frames,
    radius_of_gyration, rmsd_to,
)
from tests.dynamics_fixtures import ala2_md
from tests.protein_fixtures import mdanalysis_data


@pytest.fixture(scope="module")
def md(tmp_path_factory):
    return ala2_md(tmp_path_factory.mktemp("md"), ns=0.02)


def test_phi_psi_agree_with_mdtraj(md):
    data = load_trajectories(md)
    phi_q, psi_q = backbone_quads(data.topology)
    assert phi_q.shape == (1, 4) and psi_q.shape == (1, 4)
    traj = mdtraj.load(str(md / "frames.xtc"), top=str(md / "topology.pdb"))
    _, phi_ref = mdtraj.compute_phi(traj)
    _, psi_ref = mdtraj.compute_psi(traj)
    diff = lambda a, b: np.abs((a - b + 180) % 360 - 180).max()  # noqa: E731
    assert diff(dihedrals(data.frames, phi_q)[:, 0], np.degrees(phi_ref[:, 0])) < 0.01
    assert diff(dihedrals(data.frames, psi_q)[:, 0], np.degrees(psi_ref[:, 0])) < 0.01


def test_js_divergence_is_zero_for_equal_and_ln2_for_disjoint():
    assert js_divergence(np.array([1, 2, 3]), np.array([2, 4, 6])) == pytest.approx(0.0)
    assert js_divergence(np.array([1, 0]), np.array([0, 1])) == pytest.approx(np.log(2))
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20000, 2)), rng.normal(size=(20000, 2))
    assert js_2d(a, b, 20, [(-4, 4), (-4, 4)]) < 0.01
    assert js_1d(a[:, 0], b[:, 0] + 3) > 0.4


def test_basins_partition_the_plane():
    phi = np.array([-60, -70, -150, -80, 60, 70])
    psi = np.array([-45, -30, 150, -170, 45, -60])
    pops = basin_populations(phi, psi)
    assert pops == pytest.approx({"alpha_R": 2 / 6, "beta_PII": 2 / 6, "alpha_L": 2 / 6})


def test_native_structure_has_q_one_rmsd_zero_and_bonds_physical():
    traj = _adk(frames=1)
    xyz = traj.xyz.astype(np.float64) * 10
    data = load_like(traj)
    native = xyz[0]
    pairs = native_contact_pairs(native, data.topology)
    assert len(pairs) > 20
    assert fraction_native_contacts(xyz, native, pairs)[0] == pytest.approx(1.0, abs=0.01)
    expanded = native * 2.5
    assert fraction_native_contacts(expanded[None], native, pairs)[0] < 0.3
    rotated = native @ np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0].T + 4.0
    assert rmsd_to(rotated[None], native)[0] < 1e-6
    assert radius_of_gyration(expanded[None])[0] == pytest.approx(2.5 * radius_of_gyration(native[None])[0])
    bonds = bonded_pairs(native)
    stretched = native.copy()
    stretched[bonds[0, 1]] += 3.0
    assert physical_frames(np.stack([native, stretched]), bonds).tolist() == [True, False]


def _adk(frames: int | None = None, residues: int = 40) -> mdtraj.Trajectory:
    """Heavy atoms of the first residues of the MDAnalysisTests AdK trajectory."""
    traj = mdtraj.load(str(mdanalysis_data() / "adk_oplsaa.xtc"), top=str(mdanalysis_data() / "adk_oplsaa.pdb"))
    traj = traj.atom_slice(traj.topology.select(f"element != H and resid < {residues}"))
    return traj[:frames] if frames else traj


def load_like(traj: mdtraj.Trajectory) -> MDTrajectories:
    from gen3d.data.md_frames import topology_of

    return MDTrajectories(topology_of(traj.topology), [traj.xyz.astype(np.float64) * 10], 1.0)


def test_peptide_report_against_itself_is_perfect(md):
    data = load_trajectories(md)
    report, series = evaluate_dynamics(data, data)
    m = report["metrics"]
    assert m["js_phi_psi"] == pytest.approx(0.0, abs=1e-12) and m["max_basin_error"] == 0
    assert m["physical_frames"] == 1.0 and "phi_psi" in series and m["inverted_chirality_frames"] == 0.0
    assert report["n"] == 40
    mirrored = MDTrajectories(data.topology, [-t for t in data.trajectories], data.dt_ps)
    report, _ = evaluate_dynamics(mirrored, data)
    assert report["metrics"]["inverted_chirality_frames"] == 1.0


def test_protein_report_uses_tica_rmsd_rg_and_contacts():
    traj = _adk()
    full = load_like(traj)
    half = MDTrajectories(full.topology, [full.trajectories[0][: len(traj) // 2]], 1.0)
    report, series = evaluate_dynamics(half, full, tica_lag_ps=2.0)
    m = report["metrics"]
    assert {"js_tica", "js_rmsd", "js_rg", "js_q", "mean_rmsd", "mean_q"} <= set(m)
    assert 0.0 <= m["js_tica"] <= np.log(2) and "tica" in series


def test_protein_report_states_the_reference_runs_own_spread():
    traj = _adk()
    xyz = traj.xyz.astype(np.float64) * 10
    split = np.array_split(xyz, 4)
    data = load_like(traj)
    runs = MDTrajectories(data.topology, split, 1.0)
    m, _ = evaluate_dynamics(runs, runs, tica_lag_ps=2.0)
    floor = m["metrics"]
    rg = [radius_of_gyration(s) for s in split]
    assert floor["js_rg_reference_leave_one_out"][1] == pytest.approx(js_1d(rg[1], np.concatenate([rg[0], rg[2], rg[3]])), abs=1e-4)
    assert floor["js_rg_reference_halves"] == pytest.approx(js_1d(np.concatenate(rg[0::2]), np.concatenate(rg[1::2])))
    assert len(floor["js_rmsd_reference_leave_one_out"]) == 4 and floor["js_rmsd_reference_leave_one_out_mean"] > 0
    two = MDTrajectories(data.topology, split[:2], 1.0)
    assert not any("leave_one_out" in k for k in evaluate_dynamics(two, two, tica_lag_ps=2.0)[0]["metrics"])
