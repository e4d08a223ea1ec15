"""Resumable reference MD: heavy-atom frames (XTC + topology PDB), forces and metadata in one folder.

Folder layout (all written atomically, so an interrupted run keeps every complete chunk):
``topology.pdb`` (saved atoms), ``frames.xtc`` (mdtraj-readable), ``forces.npy`` (kcal/mol/Å,
float32), ``system.pdb`` (the prepared all-atom start), ``state.chk`` (OpenMM checkpoint) and
``meta.json``. Running the same command again continues from the checkpoint.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mdtraj
import numpy as np
from openmm import app, unit

from gen3d.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from gen3d.io.xtc import write_xtc
from gen3d.md.protocol import DEFAULT_PROTOCOL, MDProtocol
from gen3d.md.system import MDInputError, fix_structure, pdb_text, simulation_for

KJ_NM_TO_KCAL_A = 1.0 / 41.84
EQUILIBRATION_PS = 20.0
CHUNK_FRAMES = 500
FLUSH_EVERY_S = 60.0


@dataclass
class MDRun:
    """What a finished (or resumed and finished) simulation produced."""

    out: Path
    frames: int
    simulated_ns: float
    wall_s: float
    ns_per_day: float
    platform: str
    atoms_saved: int
    atoms_total: int


def _request(ns: float, save_every_ps: float, seed: int, protocol: MDProtocol, all_atoms: bool) -> dict:
    return {"ns": ns, "save_every_ps": save_every_ps, "seed": seed, "protocol": protocol.to_dict(), "all_atoms": all_atoms}


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.save(handle, array)


def _checkpoint_bytes(simulation: app.Simulation) -> bytes:
    handle = io.BytesIO()
    simulation.saveCheckpoint(handle)
    return handle.getvalue()


class _Store:
    """Frames, forces and times collected so far, flushed to the folder chunk by chunk."""

    def __init__(self, out: Path, topology: mdtraj.Topology) -> None:
        self.out, self.topology = out, topology
        self.frames: list[np.ndarray] = []
        self.forces: list[np.ndarray] = []
        self.times: list[float] = []

    def load(self, count: int) -> None:
        """Keep the first ``count`` frames already on disk (a checkpoint may trail the frame files)."""
        if count == 0:
            return
        traj = mdtraj.load(str(self.out / "frames.xtc"), top=str(self.out / "topology.pdb"))
        forces = np.load(self.out / "forces.npy")
        if len(traj) < count or len(forces) < count:
            raise MDInputError(f"{self.out}: frame files hold fewer frames than the checkpoint; start a new folder")
        self.frames = list(traj.xyz[:count])
        self.forces = list(forces[:count])
        self.times = list(traj.time[:count])

    def flush(self, simulation: app.Simulation) -> None:
        write_xtc(self.out / "frames.xtc", np.asarray(self.frames) * 10.0, np.asarray(self.times), self.topology)
        _save_npy(self.out / "forces.npy", np.asarray(self.forces, dtype=np.float32))
        atomic_write_bytes(self.out / "state.chk", _checkpoint_bytes(simulation))


def _start(simulation: app.Simulation, protocol: MDProtocol, seed: int, equilibration_ps: float) -> None:
    simulation.minimizeEnergy(maxIterations=2000)
    simulation.context.setVelocitiesToTemperature(protocol.temperature_k * unit.kelvin, seed)
    simulation.step(int(round(equilibration_ps * 1000 / protocol.timestep_fs)))
    simulation.currentStep = 0


def _prepare(out: Path, start, request: dict):
    """(topology, positions, resuming) for a new folder or one with a matching earlier run."""
    meta_path = out / "meta.json"
    if (out / "state.chk").exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("request") != request:
            raise MDInputError(f"{out}: holds a run with other settings; use a new --out folder")
        pdb = app.PDBFile(str(out / "system.pdb"))
        return pdb.topology, pdb.positions, True
    if (out / "frames.xtc").exists():
        raise MDInputError(f"{out}: holds frames but no checkpoint; use a new --out folder")
    topology, positions = fix_structure(start) if isinstance(start, (str, os.PathLike)) else start
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "system.pdb", pdb_text(topology, positions))
    return topology, positions, False


def simulate(
    start,
    out: str | os.PathLike,
    ns: float,
    save_every_ps: float = 1.0,
    *,
    seed: int = 0,
    platform: str = "auto",
    protocol: MDProtocol = DEFAULT_PROTOCOL,
    all_atoms: bool = False,
    threads: int | None = None,
    equilibration_ps: float = EQUILIBRATION_PS,
    on_frames: Callable[[int, int], None] | None = None,
) -> MDRun:
    """Simulate ``start`` (a PDB path or an OpenMM (topology, positions) pair) for ``ns`` ns into ``out``."""
    out = Path(out)
    steps_per_frame = int(round(save_every_ps * 1000 / protocol.timestep_fs))
    if steps_per_frame < 1 or ns <= 0:
        raise MDInputError("--ns and --save-every must be positive and --save-every at least one time step")
    total = int(round(ns * 1000 / save_every_ps))
    request = _request(ns, save_every_ps, seed, protocol, all_atoms)
    topology, positions, resuming = _prepare(out, start, request)
    simulation = simulation_for(topology, positions, protocol, seed, platform, threads)
    md_top = mdtraj.Topology.from_openmm(topology)
    keep = np.arange(topology.getNumAtoms()) if all_atoms else md_top.select("element != H")
    store = _Store(out, md_top.subset(keep))
    if resuming:
        simulation.loadCheckpoint(str(out / "state.chk"))
        store.load(simulation.currentStep // steps_per_frame)
    else:
        _start(simulation, protocol, seed, equilibration_ps)
        atomic_write_text(out / "topology.pdb", pdb_text(store.topology.to_openmm(), np.zeros((len(keep), 3)) * unit.nanometer))
    _write_meta(out, request, md_top, keep, simulation, len(store.frames), total, platform)
    began, first = time.perf_counter(), len(store.frames)
    while len(store.frames) < total:
        chunk_began = time.perf_counter()
        for _ in range(min(CHUNK_FRAMES, total - len(store.frames))):
            if time.perf_counter() - chunk_began > FLUSH_EVERY_S:
                break
            simulation.step(steps_per_frame)
            state = simulation.context.getState(getPositions=True, getForces=True)
            store.frames.append(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[keep])
            store.forces.append(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)[keep] * KJ_NM_TO_KCAL_A)
            store.times.append(simulation.currentStep * protocol.timestep_fs / 1000)
            if on_frames:
                on_frames(len(store.frames), total)
        store.flush(simulation)
        _write_meta(out, request, md_top, keep, simulation, len(store.frames), total, platform)
    wall = time.perf_counter() - began
    done_ns = (len(store.frames) - first) * save_every_ps / 1000
    run = MDRun(out, len(store.frames), len(store.frames) * save_every_ps / 1000, wall, done_ns / max(wall, 1e-9) * 86400,
                simulation.context.getPlatform().getName(), len(keep), topology.getNumAtoms())
    _write_meta(out, request, md_top, keep, simulation, len(store.frames), total, platform, run)
    return run


def _write_meta(out: Path, request: dict, md_top, keep, simulation, frames: int, total: int, platform: str, run: MDRun | None = None) -> None:
    meta = {
        "request": request,
        "frames": frames,
        "frames_requested": total,
        "units": {"positions": "nm (XTC)", "forces": "kcal/mol/Å", "time": "ps"},
        "atoms_saved": int(len(keep)),
        "atoms_total": int(md_top.n_atoms),
        "residues": [r.name for r in md_top.residues],
        "platform": simulation.context.getPlatform().getName(),
    }
    if run is not None:
        meta["speed"] = {"wall_s": run.wall_s, "ns_per_day": run.ns_per_day}
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=1))
