"""Dynamics tasks: reference MD, EquiJump rollouts, evaluation against reference MD, training."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from gen3d.io.atomic import atomic_write_text
from gen3d.io.errors import InputError
from gen3d.io.pdb import write_trajectory
from gen3d.io.xtc import write_topology, write_xtc
from gen3d.structures import Trajectory

DEFAULT_DYNAMICS = "equijump-ala2"
FLUSH_EVERY_S = 30.0


def run_md(
    out: str | os.PathLike, ns: float, *, pdb: str | os.PathLike | None = None, sequence: str | None = None,
    save_every_ps: float = 1.0, temperature: float = 300.0, seed: int = 0, platform: str = "auto", all_atoms: bool = False,
    on_frames: Callable[[int, int], None] | None = None,
) -> dict:
    """Simulate a PDB or a capped peptide built from ``sequence`` with the default protocol; resumable."""
    from gen3d.md import DEFAULT_PROTOCOL, build_capped_peptide, simulate
    from gen3d.md.system import MDInputError

    if (pdb is None) == (sequence is None):
        raise InputError("give exactly one of --pdb and --sequence")
    if pdb is not None and not Path(pdb).is_file():
        raise InputError(pdb, "no such file")
    protocol = replace(DEFAULT_PROTOCOL, temperature_k=temperature)
    try:
        start = os.fspath(pdb) if pdb is not None else build_capped_peptide(sequence)
        run = simulate(start, out, ns, save_every_ps, seed=seed, platform=platform, protocol=protocol, all_atoms=all_atoms,
                       threads=1, on_frames=on_frames)
    except (MDInputError, ValueError) as err:
        raise InputError(str(err)) from None
    return {"out": str(run.out), "frames": run.frames, "simulated_ns": run.simulated_ns, "wall_s": run.wall_s,
            "ns_per_day": run.ns_per_day, "platform": run.platform, "atoms_saved": run.atoms_saved, "atoms_total": run.atoms_total}


def run_md_replicas(
    out: str | os.PathLike, ns: float, *, replicas: int, jobs: int = 1, seed: int = 0,
    on_frames: Callable[[int, int], None] | None = None, **options,
) -> list[dict]:
    """``replicas`` independent runs (seeds ``seed``, ``seed + 1``, ...) into ``out/seed-S``, ``jobs`` processes at a time.

    One process per core is the fastest way to make MD data on a CPU (OpenMM's threads hand off slowly on small
    systems), and on a GPU several processes keep the device busy. Each run resumes like a single one.
    """
    from concurrent.futures import ProcessPoolExecutor, wait
    from multiprocessing import get_context

    from gen3d.md.worker_guard import exit_with_parent

    if replicas < 1 or jobs < 1:
        raise InputError("--replicas and --jobs must be at least 1")
    folders = [Path(out) / f"seed-{seed + k}" for k in range(replicas)]
    total = replicas * int(round(ns * 1000 / options.get("save_every_ps", 1.0)))
    with ProcessPoolExecutor(max_workers=min(jobs, replicas), mp_context=get_context("spawn"),
                             initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(run_md, folder, ns, seed=seed + k, **options) for k, folder in enumerate(folders)]
        while wait(futures, timeout=2.0).not_done:
            if on_frames:
                on_frames(sum(_frames_written(f) for f in folders), total)
        results = [f.result() for f in futures]  # re-raises a run's InputError here
    if on_frames:
        on_frames(total, total)
    return results


def _frames_written(folder: Path) -> int:
    try:
        return int(json.loads((folder / "meta.json").read_text())["frames"])
    except (OSError, ValueError, KeyError):
        return 0


def pack_md(runs: list[str | os.PathLike], out: str | os.PathLike, every: int = 1) -> dict:
    """Pack MD run folders of one system into a compact set (``topology.pdb``, ``run-*.xtc``, ``manifest.json``)."""
    from gen3d.data.md_archive import pack_runs

    if not runs:
        raise InputError("give at least one MD run folder")
    try:
        return pack_runs(runs, out, every)
    except ValueError as err:
        raise InputError(str(err)) from None


def _read_start(path: str | os.PathLike):
    from gen3d.io.pdb import read_protein

    return read_protein(path)


class _RolloutWriter:
    """Walker trajectories flushed (atomically) every FLUSH_EVERY_S seconds and at the end."""

    def __init__(self, out: Path, topology, tau_ps: float, pdb: bool, start: np.ndarray, walkers: int) -> None:
        self.out, self.topology, self.tau_ps, self.pdb = out, topology, tau_ps, pdb
        out.mkdir(parents=True, exist_ok=True)
        write_topology(out / "topology.pdb", topology)
        self.frames = [np.broadcast_to(start - start.mean(0), (walkers, *start.shape)).copy()]
        self.last = time.time()

    def add(self, frame: np.ndarray) -> None:
        self.frames.append(frame)
        if time.time() - self.last > FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        stacked = np.stack(self.frames, axis=1)
        times = np.arange(stacked.shape[1]) * self.tau_ps
        for w, traj in enumerate(stacked):
            write_xtc(self.out / f"walker-{w:03d}.xtc", traj, times, self.out / "topology.pdb")
            if self.pdb:
                write_trajectory(self.out / f"walker-{w:03d}.pdb", Trajectory(self.topology, traj, times))
        self.last = time.time()


def rollout(
    checkpoint: str, init: str | os.PathLike, out: str | os.PathLike, jumps: int, *, walkers: int = 1, mode: str | None = None,
    eps: float | None = None, steps: int | None = None, retries: int = 8, project: bool | None = None, seed: int = 0,
    device: str = "auto", pdb: bool = True, on_jump: Callable[[int], None] | None = None,
) -> dict:
    """Advance ``walkers`` copies of ``init`` by ``jumps`` jumps; writes ``out/walker-*.xtc`` (+ ``.pdb``) and ``meta.json``.

    ``mode``, ``eps``, ``steps`` and ``project`` left as None take the checkpoint card's sampling settings (else ODE, 8 steps, no projection).
    """
    from gen3d.samplers.equijump import DynamicsSampler, RolloutError, card_settings, load_jump_model, match_topology, topology_protein

    if mode not in (None, "ode", "sde"):
        raise InputError(f"unknown mode {mode!r} (use ode or sde)")
    model, card = load_jump_model(checkpoint)
    settings = card_settings(card, mode, eps, steps, retries, project)
    sampler = DynamicsSampler(model, card, jumps=jumps, settings=settings)
    mode, eps, steps = settings.mode, settings.eps, settings.steps
    start = match_topology(_read_start(init), sampler.card)
    out = Path(out)
    writer = _RolloutWriter(out, topology_protein(sampler.card), sampler.tau_ps, pdb, start, walkers)
    meta = {"checkpoint": sampler.card.get("name"), "checkpoint_sha256": sampler.card.get("sha256"), "init": Path(init).name,
            "tau_ps": sampler.tau_ps, "jumps": jumps, "walkers": walkers, "mode": mode, "eps": eps if mode == "sde" else 0.0,
            "steps_per_jump": steps, "retries": retries, "covalent_projection": settings.project,
            "covalent_lengths": sampler.covalent_lengths if settings.project else None, "seed": seed, "units": {"positions": "nm (XTC)", "time": "ps"}}
    began = time.perf_counter()
    try:
        for frame in sampler.rollout(start, walkers, jumps, seed=seed, device=device, on_jump=on_jump):
            writer.add(frame)
    except RolloutError:
        writer.flush()
        atomic_write_text(out / "meta.json", json.dumps({**meta, "jumps_completed": len(writer.frames) - 1}, indent=1))
        raise
    wall = time.perf_counter() - began
    writer.flush()
    simulated_ns = walkers * jumps * sampler.tau_ps / 1000
    meta.update(jumps_completed=jumps, wall_s=wall, simulated_ns=simulated_ns, ns_per_s=simulated_ns / max(wall, 1e-9))
    if retries:
        meta["checks"] = sampler.stats.as_dict(walkers * jumps)
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=1))
    return meta


def evaluate_trajectories(
    trajectory: str | os.PathLike, reference: str | os.PathLike | list, *, native: str | os.PathLike | None = None,
    plots: str | os.PathLike | None = None, skip_first: bool = True,
) -> dict:
    """Score a rollout (or any trajectory) against reference MD (one folder or several runs); optional PNG plots."""
    from gen3d.data.md_frames import MDTrajectories, load_trajectories, match_atoms
    from gen3d.metrics.dynamics import TopologyMismatch, evaluate_dynamics
    from gen3d.metrics.dynamics_plots import dynamics_figures

    model = load_trajectories(trajectory)
    if skip_first and (Path(trajectory) / "meta.json").exists() and all(len(t) > 1 for t in model.trajectories):
        model = MDTrajectories(model.topology, [t[1:] for t in model.trajectories], model.dt_ps)  # drop the shared start frame
    refs = [load_trajectories(r) for r in ([reference] if isinstance(reference, (str, os.PathLike)) else reference)]
    if any(r.topology.tokens != refs[0].topology.tokens for r in refs[1:]):
        raise InputError("the reference trajectories describe different atoms")
    ref = MDTrajectories(refs[0].topology, [t for r in refs for t in r.trajectories], refs[0].dt_ps, refs[0].mdtraj_topology)
    native_xyz = None
    if native is not None:
        native_data = load_trajectories(native)
        picked = match_atoms(native_data.topology, ref.topology)
        if picked is None:
            raise InputError(native, "lacks atoms of the reference topology (matched by residue order and atom name)")
        native_xyz = native_data.trajectories[0][0][picked]
    try:
        report, series = evaluate_dynamics(model, ref, native_xyz)
    except TopologyMismatch as err:
        raise InputError(str(err)) from None
    if plots:
        report["plots"] = [p.name for p in dynamics_figures(series, Path(plots))]
    return report


def train_dynamics(
    config: str | os.PathLike, overrides: list[str], out: str | os.PathLike, *, device: str = "auto", echo=print, on_step=None
) -> dict:
    """Train (or resume) an EquiJump model from a TOML config (with ``section.key=value`` overrides)."""
    from gen3d.samplers.base import resolve_device
    from gen3d.train.config import load_config
    from gen3d.train.equijump import train_equijump

    return train_equijump(load_config(Path(config), overrides), Path(out), resolve_device(device), echo=echo, on_step=on_step)
