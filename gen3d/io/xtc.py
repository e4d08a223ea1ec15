"""XTC trajectories (mdtraj) with a topology PDB beside them; frames in Å, times in ps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gen3d.io.pdb import write_protein
from gen3d.structures import Protein


def write_topology(path: str | os.PathLike, topology: Protein) -> None:
    """The PDB every XTC in a folder refers to (atomic)."""
    write_protein(path, topology)


def write_xtc(path: str | os.PathLike, frames: np.ndarray, times: np.ndarray, topology) -> None:
    """Frames (T, n, 3) in Å as XTC, written to a temporary name and renamed (never half a file).

    ``topology``: an ``mdtraj.Topology`` or the path of the topology PDB beside the file.
    """
    import mdtraj

    path = Path(path)
    if not isinstance(topology, mdtraj.Topology):
        topology = mdtraj.load_topology(str(topology))
    tmp = path.with_name(f".{path.stem}.partial.xtc")
    frames_nm = np.asarray(frames, dtype=np.float32) / 10.0
    mdtraj.Trajectory(frames_nm, topology, time=np.asarray(times, dtype=np.float32)).save_xtc(str(tmp))
    os.replace(tmp, path)
