"""Compact sets of MD runs: one topology, one thinned XTC per run and a manifest, for shipping and evaluation.

``gen3d dynamics md`` writes a folder per run with forces, a checkpoint and every saved frame. A
set packs several runs of one system into ``topology.pdb`` + ``run-<name>.xtc`` + ``manifest.json``
(each run's request, frames kept, sha256), keeping every ``every``-th frame: frames a few ps apart
are strongly correlated, so thinning costs little of what a distribution or a lagged pair needs.
``load_trajectories`` reads such a folder as one MDTrajectories with a trajectory per run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from gen3d.checkpoints import sha256_of
from gen3d.data.md_frames import MANIFEST, MDTrajectories, load_trajectories
from gen3d.io.atomic import atomic_write_text
from gen3d.io.errors import InputError
from gen3d.io.xtc import write_xtc


def _request_of(run: Path) -> dict:
    meta = run / "meta.json"
    return json.loads(meta.read_text()).get("request", {}) if meta.exists() else {}


def pack_runs(runs: list[str | os.PathLike], out: str | os.PathLike, every: int = 1) -> dict:
    """Pack MD run folders of one system into ``out`` (added to a set already there); returns the manifest."""
    if every < 1:
        raise ValueError("--every must be at least 1")
    out = Path(out)
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"runs": []}
    out.mkdir(parents=True, exist_ok=True)
    for run in map(Path, runs):
        data = load_trajectories(run)
        if len(data.trajectories) != 1:
            raise InputError(run, "not a single MD run (expected topology.pdb + frames.xtc)")
        _check_topology(out, run, data)
        frames = data.trajectories[0][::every]
        name = f"run-{run.name}.xtc"
        times = np.arange(len(frames)) * data.dt_ps * every
        write_xtc(out / name, frames, times, out / "topology.pdb")
        entry = {"file": name, "source": run.name, "request": _request_of(run), "frames": int(len(frames)),
                 "frame_interval_ps": data.dt_ps * every, "ns": round(len(frames) * data.dt_ps * every / 1000, 4),
                 "sha256": sha256_of(out / name)}
        manifest["runs"] = [r for r in manifest["runs"] if r["file"] != name] + [entry]
    manifest["total_ns"] = round(sum(r["ns"] for r in manifest["runs"]), 4)
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    return manifest


def _check_topology(out: Path, run: Path, data: MDTrajectories) -> None:
    """Write the run's heavy-atom topology into a new set, or refuse a run of another system."""
    import mdtraj

    mine = out / "topology.pdb"
    if not mine.exists():
        tmp = out / ".topology.partial.pdb"
        top = data.mdtraj_topology
        mdtraj.Trajectory(np.zeros((1, top.n_atoms, 3), dtype=np.float32), top).save_pdb(str(tmp))
        os.replace(tmp, mine)
        return
    if load_trajectories(mine).topology.tokens != data.topology.tokens:
        raise InputError(run, f"its atoms differ from the set's topology in {out}")


def verify_set(folder: str | os.PathLike) -> list[str]:
    """Files of a packed set whose sha256 no longer matches its manifest (empty when intact)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    return [r["file"] for r in manifest["runs"] if sha256_of(folder / r["file"]) != r["sha256"]]


def protocol_of(paths: list[str | os.PathLike]) -> dict:
    """The MD protocol shared by every run in ``paths`` (run folders or packed sets); empty when unknown or mixed.

    Cards state the protocol their data was made with; reading it from the runs keeps it from being typed by hand.
    """
    protocols = []
    for path in map(Path, paths):
        manifest = path / MANIFEST
        if manifest.exists():
            protocols += [r.get("request", {}).get("protocol") for r in json.loads(manifest.read_text()).get("runs", [])]
        else:
            protocols.append(_request_of(path).get("protocol"))
    first = protocols[0] if protocols else None
    return dict(first) if first and all(p == first for p in protocols) else {}
