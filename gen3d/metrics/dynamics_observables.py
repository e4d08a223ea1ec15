"""Per-frame observables of heavy-atom trajectories (Å, degrees): dihedrals, Rg, RMSD, native contacts, bonds.

Every function is vectorised over frames (T, n, 3); none loops over atoms.
"""

from __future__ import annotations

import numpy as np

from gen3d.data.md_frames import MDTopology, kabsch_align

BOND_MAX = 1.9  # Å: heavy atoms closer than this in the reference frame are bonded
PHYSICAL_BOND = (1.0, 2.0)  # Å: a bonded heavy-atom distance outside this is unphysical
CONTACT_CUTOFF, CONTACT_BETA, CONTACT_LAMBDA = 4.5, 5.0, 1.8  # Best, Hummer & Eaton (2013)


def dihedrals(frames: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Dihedral angles (T, k) in degrees of atom quadruples (k, 4)."""
    p = frames[:, quads]  # (T, k, 4, 3)
    b0, b1, b2 = p[..., 0, :] - p[..., 1, :], p[..., 2, :] - p[..., 1, :], p[..., 3, :] - p[..., 2, :]
    b1n = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - (b0 * b1n).sum(-1, keepdims=True) * b1n
    w = b2 - (b2 * b1n).sum(-1, keepdims=True) * b1n
    x = (v * w).sum(-1)
    y = (np.cross(b1n, v) * w).sum(-1)
    return np.degrees(np.arctan2(y, x))


def phi_psi(frames: np.ndarray, quads: tuple[np.ndarray, np.ndarray], residue: int = 0) -> np.ndarray:
    """(T, 2) phi and psi in degrees of one residue, given ``backbone_quads``."""
    return np.stack([dihedrals(frames, quads[0][residue : residue + 1])[:, 0], dihedrals(frames, quads[1][residue : residue + 1])[:, 0]], 1)


def backbone_quads(topology: MDTopology) -> tuple[np.ndarray, np.ndarray]:
    """Atom quadruples of every defined phi (C-N-CA-C) and psi (N-CA-C-N) along the chain."""
    where = {(int(r), a): i for i, (r, a) in enumerate(zip(topology.residue_index, topology.atom_names))}
    residues = sorted(set(topology.residue_index.tolist()))
    phi, psi = [], []
    for r in residues:
        n, ca, c = where.get((r, "N")), where.get((r, "CA")), where.get((r, "C"))
        if None in (n, ca, c):
            continue
        prev_c, next_n = where.get((r - 1, "C")), where.get((r + 1, "N"))
        if prev_c is not None and next_n is not None:
            phi.append([prev_c, n, ca, c])
            psi.append([n, ca, c, next_n])
    return np.array(phi, dtype=np.int64).reshape(-1, 4), np.array(psi, dtype=np.int64).reshape(-1, 4)


def radius_of_gyration(frames: np.ndarray) -> np.ndarray:
    """Heavy-atom radius of gyration (T,), unweighted."""
    centred = frames - frames.mean(1, keepdims=True)
    return np.sqrt((centred**2).sum(-1).mean(-1))


def rmsd_to(frames: np.ndarray, native: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
    """RMSD (T,) after optimal superposition onto ``native`` over ``atoms`` (all if None)."""
    sel = slice(None) if atoms is None else atoms
    mobile, target = frames[:, sel], np.broadcast_to(native[sel], frames[:, sel].shape)
    aligned = kabsch_align(mobile, np.ascontiguousarray(target))
    return np.sqrt(((aligned - target) ** 2).sum(-1).mean(-1))


def bonded_pairs(reference: np.ndarray) -> np.ndarray:
    """(m, 2) heavy-atom pairs closer than BOND_MAX in a reference frame."""
    d = np.linalg.norm(reference[:, None] - reference[None], axis=-1)
    i, j = np.nonzero(np.triu(d < BOND_MAX, 1))
    return np.stack([i, j], axis=1)


def physical_frames(frames: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """(T,) True where every bonded distance lies within PHYSICAL_BOND."""
    d = np.linalg.norm(frames[:, bonds[:, 0]] - frames[:, bonds[:, 1]], axis=-1)
    return ((d >= PHYSICAL_BOND[0]) & (d <= PHYSICAL_BOND[1])).all(-1)


def native_contact_pairs(native: np.ndarray, topology: MDTopology) -> np.ndarray:
    """Heavy-atom pairs more than 3 residues apart and within CONTACT_CUTOFF in the native structure."""
    d = np.linalg.norm(native[:, None] - native[None], axis=-1)
    far = np.abs(topology.residue_index[:, None] - topology.residue_index[None]) > 3
    i, j = np.nonzero(np.triu((d < CONTACT_CUTOFF) & far, 1))
    return np.stack([i, j], axis=1)


def fraction_native_contacts(frames: np.ndarray, native: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Q (T,): smooth fraction of native contacts formed (Best, Hummer & Eaton 2013)."""
    if len(pairs) == 0:
        return np.full(len(frames), np.nan)
    r = np.linalg.norm(frames[:, pairs[:, 0]] - frames[:, pairs[:, 1]], axis=-1)
    r0 = np.linalg.norm(native[pairs[:, 0]] - native[pairs[:, 1]], axis=-1)
    return (1.0 / (1.0 + np.exp(CONTACT_BETA * (r - CONTACT_LAMBDA * r0)))).mean(-1)


def ca_distances(frames: np.ndarray, topology: MDTopology) -> np.ndarray:
    """(T, k) pairwise Cα distances (pairs at least 3 residues apart): the TICA features."""
    ca = np.flatnonzero(topology.atom_names == "CA")
    i, j = np.triu_indices(len(ca), 3)
    return np.linalg.norm(frames[:, ca[i]] - frames[:, ca[j]], axis=-1)


def chiral_centres(topology: MDTopology) -> np.ndarray:
    """(k, 4) atoms N, CA, C, CB of every residue that has them (the Cα stereocentres)."""
    where = {(int(r), a): i for i, (r, a) in enumerate(zip(topology.residue_index, topology.atom_names))}
    rows = [[where.get((r, a)) for a in ("N", "CA", "C", "CB")] for r in sorted(set(topology.residue_index.tolist()))]
    return np.array([row for row in rows if None not in row], dtype=np.int64).reshape(-1, 4)


def chirality_signs(frames: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(T, k) sign of (N - CA) . ((C - CA) x (CB - CA)): the handedness of each Cα."""
    n, ca, c, cb = (frames[:, centres[:, k]] for k in range(4))
    return np.sign(np.einsum("tki,tki->tk", n - ca, np.cross(c - ca, cb - ca)))
