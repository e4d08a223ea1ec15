"""A differentiable steric-overlap energy of decoded residues, under the same radii and thresholds as the
clash score (gen3d.data.atom_radii): heavy atoms of residues at least two apart in sequence overlap when
closer than r_i + r_j - 0.4 Å (N/O pairs: 2.2 Å, since they may hydrogen-bond); S-S pairs are exempt."""

from __future__ import annotations

import functools

import torch

from gen3d.data.atom_radii import CLASH_OVERLAP, DEFAULT_RADIUS, POLAR, POLAR_MIN, VDW_RADII
from gen3d.data.residues import SLOT_ELEMENTS

NEIGHBORS = 16  # residues (nearest by Cα) whose atoms each residue is checked against


@functools.lru_cache(maxsize=None)
def _slot_tables() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per residue type and slot (20, 14): radius (Å), polar flag, sulfur flag."""
    radius = torch.tensor([[VDW_RADII.get(e, DEFAULT_RADIUS) for e in row] for row in SLOT_ELEMENTS.tolist()])
    polar = torch.tensor([[e in POLAR for e in row] for row in SLOT_ELEMENTS.tolist()])
    sulfur = torch.tensor([[e == "S" for e in row] for row in SLOT_ELEMENTS.tolist()])
    return radius, polar, sulfur


def near_residues(ca: torch.Tensor, present: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` residues nearest by Cα ``(B, N, 3)`` to each residue, at least two apart in sequence: indices
    ``(B, N, k)`` and whether each is a real neighbour (both residues ``present``)."""
    N = ca.shape[1]
    d = torch.cdist(ca, ca)
    idx = torch.arange(N, device=ca.device)
    d = d.masked_fill(((idx[:, None] - idx[None, :]).abs() < 2) | ~(present[:, :, None] & present[:, None, :]), float("inf"))
    dist, nbr = d.topk(k, dim=-1, largest=False)
    return nbr, torch.isfinite(dist)


def gather_residues(x: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
    """``x (B, N, ...)`` at neighbour indices ``nbr (B, N, k)``: ``(B, N, k, ...)``."""
    return x[torch.arange(x.shape[0], device=x.device)[:, None, None], nbr]


def steric_overlap(coords: torch.Tensor, exists: torch.Tensor, aatype: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Sum per structure ``(B,)`` of squared overlaps (Å^2) with the clash thresholds widened by ``margin``.

    ``coords (B, N, 14, 3)``, ``exists (B, N, 14)`` the atoms present, ``aatype (B, N)``. Invariant
    under rotations and translations; each clashing pair is counted once per side."""
    k = min(NEIGHBORS, aatype.shape[1] - 2)
    if k < 1:
        return coords.sum((1, 2, 3)) * 0
    tables = [t.to(coords.device) for t in _slot_tables()]
    radius, polar, sulfur = (t[aatype] for t in tables)
    nbr, ok = near_residues(coords[:, :, 1].detach(), exists.any(-1), k)
    gather = lambda x: gather_residues(x, nbr)  # noqa: E731  (B, N, k, 14, ...)
    pair = lambda a, b: a[:, :, None, :, None] & b[:, :, :, None, :]  # noqa: E731
    dij = (coords[:, :, None, :, None] - gather(coords)[:, :, :, None]).norm(dim=-1)  # (B, N, k, 14, 14)
    both_polar = pair(polar, gather(polar))
    limit = torch.where(both_polar, POLAR_MIN, radius[:, :, None, :, None] + gather(radius)[:, :, :, None, :] - CLASH_OVERLAP)
    valid = pair(exists, gather(exists)) & ~pair(sulfur, gather(sulfur)) & ok[..., None, None]
    overlap = torch.relu(limit + margin - dij) * valid
    return (overlap**2).sum((1, 2, 3, 4))
