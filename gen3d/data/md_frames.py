"""MD trajectories as arrays: heavy-atom frames (Å), atom tokens and residue indices, lagged pairs.

A trajectory folder is what ``gen3d dynamics md`` writes (``topology.pdb`` + ``frames.xtc``) or
what ``gen3d dynamics rollout`` writes (``topology.pdb`` + ``walker-*.xtc``) or a packed set of
runs (``topology.pdb`` + ``run-*.xtc`` in its manifest's order, see ``md_archive``), or a folder of run folders (``md --replicas``);
a single PDB or multi-model PDB file also loads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gen3d.io.errors import InputError


@dataclass
class MDTopology:
    """Per-atom residue names, atom names, elements and residue index (0-based, in file order)."""

    residue_names: np.ndarray
    atom_names: np.ndarray
    elements: np.ndarray
    residue_index: np.ndarray

    @property
    def tokens(self) -> list[str]:
        """``RES:ATOM`` per atom: the model's vocabulary keys."""
        return [f"{r}:{a}" for r, a in zip(self.residue_names, self.atom_names)]

    def __len__(self) -> int:
        return len(self.atom_names)


@dataclass
class MDTrajectories:
    """One topology and one or more trajectories (walkers or independent runs) of (T, n, 3) frames in Å."""

    topology: MDTopology
    trajectories: list[np.ndarray]
    dt_ps: float
    mdtraj_topology: object = None

    @property
    def frames(self) -> np.ndarray:
        """All frames of all trajectories stacked."""
        return np.concatenate(self.trajectories)


def topology_of(md_top) -> MDTopology:
    """Our per-atom arrays from an ``mdtraj.Topology``."""
    atoms = list(md_top.atoms)
    return MDTopology(
        residue_names=np.array([a.residue.name for a in atoms]),
        atom_names=np.array([a.name for a in atoms]),
        elements=np.array([a.element.symbol if a.element is not None else "" for a in atoms]),
        residue_index=np.array([a.residue.index for a in atoms], dtype=np.int64),
    )


def _load(files: list[Path], top: Path | None):
    import mdtraj

    loaded = []
    for f in files:
        try:
            loaded.append(mdtraj.load(str(f), top=str(top)) if top is not None else mdtraj.load(str(f)))
        except Exception as err:  # noqa: BLE001 - mdtraj raises many kinds
            raise InputError(f, f"cannot read trajectory ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})") from None
    return loaded


MANIFEST = "manifest.json"  # a packed set's list of runs (see md_archive)


def _packed_runs(folder: Path) -> list[Path]:
    """A packed set's run files in the order they were packed (its manifest's), so its first run stays first."""
    files = sorted(folder.glob("run-*.xtc"))
    manifest = folder / MANIFEST
    if not manifest.exists():
        return files
    try:
        order = [r["file"] for r in json.loads(manifest.read_text())["runs"]]
    except (ValueError, KeyError, TypeError):
        raise InputError(manifest, "not a packed set's manifest (needs runs[].file)") from None
    rank = {name: k for k, name in enumerate(order)}
    return sorted(files, key=lambda f: (rank.get(f.name, len(rank)), f.name))


def load_trajectories(path: str | os.PathLike, heavy_only: bool = True) -> MDTrajectories:
    """Frames of an MD or rollout folder, an XTC/DCD next to ``topology.pdb``, or a (multi-model) PDB."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_dir() and not (path / "topology.pdb").exists() and any((p / "topology.pdb").exists() for p in path.iterdir()):
        return _load_parent(path, heavy_only)
    if path.is_dir():
        top = path / "topology.pdb"
        files = sorted(path.glob("walker-*.xtc")) or sorted(path.glob("frames.xtc")) or _packed_runs(path)
        if not top.exists() or not files:
            raise InputError(path, "not a trajectory folder (needs topology.pdb and frames.xtc, walker-*.xtc or run-*.xtc)")
        loaded = _load(files, top)
    elif path.suffix in (".xtc", ".dcd", ".trr", ".nc", ".h5"):
        top = path.with_name("topology.pdb")
        if not top.exists():
            raise InputError(path, "needs topology.pdb next to it")
        loaded = _load([path], top)
    else:
        loaded = _load([path], None)
    if not loaded or loaded[0].n_atoms == 0 or min(len(t) for t in loaded) == 0:
        raise InputError(path, "trajectory has no atoms or no frames")
    md_top = loaded[0].topology
    if heavy_only:
        keep = md_top.select("element != H")
        loaded = [t.atom_slice(keep) for t in loaded]
        md_top = loaded[0].topology
    dt = float(loaded[0].timestep) if len(loaded[0]) > 1 else 0.0
    return MDTrajectories(topology_of(md_top), [t.xyz.astype(np.float64) * 10.0 for t in loaded], dt, md_top)


SOLVENT = ("HOH", "WAT", "SOL", "NA", "CL", "K", "MG", "ZN", "CA2")


def match_atoms(source: MDTopology, target: MDTopology) -> np.ndarray | None:
    """Indices of ``source`` atoms giving ``target``'s atoms in order, by residue rank and atom name (solvent skipped).

    Lets a native structure from another file (other atom order, waters, missing OXT) serve a reference; None when
    a residue or atom of ``target`` has no counterpart.
    """
    src_res = [r for r in np.unique(source.residue_index) if source.residue_names[source.residue_index == r][0] not in SOLVENT]
    tgt_res = np.unique(target.residue_index).tolist()
    if len(src_res) < len(tgt_res):
        return None
    lookup = {(rank, source.atom_names[i]): i for rank, r in enumerate(src_res) for i in np.flatnonzero(source.residue_index == r)}
    rank_of = {r: k for k, r in enumerate(tgt_res)}
    picked = [lookup.get((rank_of[r], name)) for r, name in zip(target.residue_index.tolist(), target.atom_names)]
    return None if any(i is None for i in picked) else np.asarray(picked, dtype=np.int64)


def _load_parent(path: Path, heavy_only: bool) -> MDTrajectories:
    """A folder of run folders (``gen3d dynamics md --replicas``): every run as one trajectory, same atoms required."""
    parts = [load_trajectories(p, heavy_only) for p in sorted(path.iterdir()) if (p / "topology.pdb").exists()]
    if any(p.topology.tokens != parts[0].topology.tokens or p.dt_ps != parts[0].dt_ps for p in parts[1:]):
        raise InputError(path, "its runs differ in atoms or frame interval")
    return MDTrajectories(parts[0].topology, [t for p in parts for t in p.trajectories], parts[0].dt_ps, parts[0].mdtraj_topology)


def kabsch_align(mobile: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``mobile`` (B, n, 3) rotated and translated onto ``target`` (B, n, 3) by least squares, batched."""
    mc, tc = mobile.mean(1, keepdims=True), target.mean(1, keepdims=True)
    a, b = mobile - mc, target - tc
    u, _, vt = np.linalg.svd(np.einsum("bni,bnj->bij", a, b))
    d = np.sign(np.linalg.det(np.einsum("bij,bjk->bik", u, vt)))
    u[:, :, -1] *= d[:, None]
    rot = np.einsum("bij,bjk->bik", u, vt)
    return np.einsum("bni,bij->bnj", a, rot) + tc


def lagged_pairs(trajectories: list[np.ndarray], lag: int, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random (x_t, x_{t+lag}) pairs, x_t centred and x_{t+lag} aligned onto it (Å)."""
    lengths = np.array([max(len(t) - lag, 0) for t in trajectories])
    if lengths.sum() == 0:
        raise ValueError(f"no trajectory is longer than the lag of {lag} frames")
    which = rng.choice(len(trajectories), size=count, p=lengths / lengths.sum())
    start = (rng.random(count) * lengths[which]).astype(np.int64)
    x0 = np.stack([trajectories[w][t] for w, t in zip(which, start)])
    x1 = np.stack([trajectories[w][t + lag] for w, t in zip(which, start)])
    x0 = x0 - x0.mean(1, keepdims=True)
    return x0, kabsch_align(x1, x0)
