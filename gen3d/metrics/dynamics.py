"""Score a generated trajectory ensemble against reference MD: the house metrics report for dynamics.

Peptides (at most 4 residues with defined phi/psi): JS divergence of the 36 x 36 phi/psi
histogram and basin populations per residue. Proteins: JS divergence on TIC1/TIC2 (TICA on Cα
distances fitted on the reference), RMSD to native, radius of gyration and fraction of native
contacts. Always: bond-geometry sanity of every frame.
"""

from __future__ import annotations

import numpy as np

from gen3d.data.md_frames import MDTrajectories
from gen3d.metrics.dynamics_distributions import (
    basin_populations, fit_tica, histogram_ranges, js_1d, js_2d,
)
from gen3d.metrics.dynamics_observables import (
    backbone_quads, bonded_pairs, ca_distances, chiral_centres, chirality_signs, fraction_native_contacts,
    native_contact_pairs, phi_psi,
    physical_frames, radius_of_gyration, rmsd_to,
)

PEPTIDE_MAX_RESIDUES = 4
RAMACHANDRAN_BINS = 36
TICA_BINS = 40
TICA_LAG_PS = 100.0


class TopologyMismatch(ValueError):
    """Model and reference trajectories do not describe the same atoms."""


def _check_same(model: MDTrajectories, reference: MDTrajectories) -> None:
    if model.topology.tokens != reference.topology.tokens:
        raise TopologyMismatch(
            f"trajectory and reference have different heavy atoms ({len(model.topology)} vs {len(reference.topology)})"
        )


def _peptide_metrics(model: np.ndarray, reference: np.ndarray, quads: tuple[np.ndarray, np.ndarray]) -> tuple[dict, dict]:
    metrics, series = {}, {}
    count = len(quads[0])
    for k in range(count):
        tag = "" if count == 1 else f"_{k + 1}"
        m, r = phi_psi(model, quads, k), phi_psi(reference, quads, k)
        metrics[f"js_phi_psi{tag}"] = js_2d(m, r, RAMACHANDRAN_BINS, [(-180, 180), (-180, 180)])
        pm, pr = basin_populations(m[:, 0], m[:, 1]), basin_populations(r[:, 0], r[:, 1])
        for basin in pm:
            metrics[f"{basin}{tag}"] = pm[basin]
            metrics[f"{basin}{tag}_reference"] = pr[basin]
        metrics[f"max_basin_error{tag}"] = max(abs(pm[b] - pr[b]) for b in pm)
        series[f"phi_psi{tag}"] = (m, r)
    return metrics, series


def _run_spread(reference: MDTrajectories, quads: tuple[np.ndarray, np.ndarray]) -> dict:
    """How much independent reference runs disagree on the first residue's basins (the reference's own noise)."""
    if len(reference.trajectories) < 2:
        return {}
    pops = [basin_populations(*phi_psi(t, quads).T) for t in reference.trajectories]
    return {f"{b}_reference_run_spread": max(p[b] for p in pops) - min(p[b] for p in pops) for b in pops[0]}


def _protein_run_floor(reference: MDTrajectories, native: np.ndarray) -> dict:
    """The reference's own noise on the protein targets: each run against the others, and even against odd runs.

    A model cannot be judged finer than independent reference runs agree with each other, so these
    floors are printed next to the model's JS values (needs at least 3 runs; the halves need 4).
    """
    runs = reference.trajectories
    if len(runs) < 3:
        return {}
    ca = np.flatnonzero(reference.topology.atom_names == "CA")
    obs = {"rmsd": [rmsd_to(t, native, ca) for t in runs], "rg": [radius_of_gyration(t) for t in runs]}
    floor: dict = {}
    for name, per_run in obs.items():
        loo = [js_1d(per_run[k], np.concatenate(per_run[:k] + per_run[k + 1:])) for k in range(len(runs))]
        floor[f"js_{name}_reference_leave_one_out"] = [round(v, 4) for v in loo]
        floor[f"js_{name}_reference_leave_one_out_mean"] = float(np.mean(loo))
        if len(runs) >= 4:
            floor[f"js_{name}_reference_halves"] = js_1d(np.concatenate(per_run[0::2]), np.concatenate(per_run[1::2]))
    return floor


def _protein_metrics(model: MDTrajectories, reference: MDTrajectories, native: np.ndarray, tica_lag: int) -> tuple[dict, dict]:
    top = reference.topology
    ca = np.flatnonzero(top.atom_names == "CA")
    pairs = native_contact_pairs(native, top)
    obs = {}
    for label, data in (("model", model), ("reference", reference)):
        frames = data.frames
        obs[label] = {
            "rmsd": rmsd_to(frames, native, ca), "rg": radius_of_gyration(frames),
            "q": fraction_native_contacts(frames, native, pairs),
        }
    tica = fit_tica([ca_distances(t, top) for t in reference.trajectories], tica_lag)
    tic_ref = np.concatenate([tica.transform(ca_distances(t, top)) for t in reference.trajectories])
    tic_model = np.concatenate([tica.transform(ca_distances(t, top)) for t in model.trajectories])
    metrics = {
        "js_tica": js_2d(tic_model, tic_ref, TICA_BINS, histogram_ranges(tic_ref)),
        "js_rmsd": js_1d(obs["model"]["rmsd"], obs["reference"]["rmsd"]),
        "js_rg": js_1d(obs["model"]["rg"], obs["reference"]["rg"]),
        "js_q": js_1d(obs["model"]["q"], obs["reference"]["q"]),
    }
    for name in ("rmsd", "rg", "q"):
        metrics[f"mean_{name}"] = float(obs["model"][name].mean())
        metrics[f"mean_{name}_reference"] = float(obs["reference"][name].mean())
    return metrics, {"tica": (tic_model, tic_ref), **{k: (obs["model"][k], obs["reference"][k]) for k in ("rmsd", "rg", "q")}}


def evaluate_dynamics(
    model: MDTrajectories, reference: MDTrajectories, native: np.ndarray | None = None, tica_lag_ps: float = TICA_LAG_PS,
) -> tuple[dict, dict]:
    """(report, series for plots): ``{"n": frames, "metrics": {...}, "per_item": [per trajectory]}``."""
    _check_same(model, reference)
    native = reference.trajectories[0][0] if native is None else native
    bonds = bonded_pairs(native)
    per_item = []
    for k, traj in enumerate(model.trajectories):
        ok = physical_frames(traj, bonds)
        per_item.append({"trajectory": k, "frames": int(len(traj)), "physical_frames": float(ok.mean())})
    frames = model.frames
    metrics = {
        "physical_frames": float(physical_frames(frames, bonds).mean()),
        "reference_physical_frames": float(physical_frames(reference.frames, bonds).mean()),
    }
    centres = chiral_centres(reference.topology)
    if len(centres):
        native_signs = chirality_signs(native[None], centres)[0]
        metrics["inverted_chirality_frames"] = float((chirality_signs(frames, centres) != native_signs).any(-1).mean())
    quads = backbone_quads(reference.topology)
    series: dict = {}
    residues = len(set(reference.topology.residue_index.tolist()))
    if 0 < len(quads[0]) <= PEPTIDE_MAX_RESIDUES and residues <= PEPTIDE_MAX_RESIDUES + 2:
        extra, series = _peptide_metrics(frames, reference.frames, quads)
        extra.update(_run_spread(reference, quads))
    else:
        lag = max(int(round(tica_lag_ps / max(reference.dt_ps, 1e-9))), 1)
        extra, series = _protein_metrics(model, reference, native, lag)
        extra.update(_protein_run_floor(reference, native))
    metrics.update(extra)
    return {"n": int(len(frames)), "trajectories": len(model.trajectories), "reference_frames": int(len(reference.frames)),
            "metrics": metrics, "per_item": per_item}, series
