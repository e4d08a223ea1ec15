"""Paths between two latents of the same chains: straight lines, or geodesics that follow local rotations.

A coarse node's l>=1 features rotate with its neighbourhood. When a domain turns between the two
conformations, the straight line between its features passes through shortened, mixed
orientations the decoder never saw; the geodesic path instead expresses the end's features in
the start's local orientation (the Kabsch rotation of the node's nearest coarse neighbours),
blends them there, and turns the blend by the matching fraction of that rotation. Both paths
start and end exactly at the two latents, and both are SO(3)-equivariant.
"""

from __future__ import annotations

import torch
from e3nn import o3

from gen3d.models.ophiuchus.autoencoder import Latent
from gen3d.nn.superpose import proper_rotations

PATHS = ("linear", "geodesic")
FRAME_NEIGHBORS = 8  # coarse nodes (the node included) whose motion defines its local rotation


def local_rotations(start: torch.Tensor, end: torch.Tensor, mask: torch.Tensor, k: int = FRAME_NEIGHBORS) -> torch.Tensor:
    """Per node ``(B, M, 3, 3)``: the proper rotation taking its ``k`` nearest start neighbours onto theirs at the end."""
    B, M, _ = start.shape
    k = min(k, M)
    d = torch.cdist(start, start).masked_fill(~(mask[:, None] & mask[:, :, None]), float("inf"))
    d = d + torch.diag_embed(torch.full((M,), -1.0, dtype=d.dtype, device=d.device))  # the node itself first
    dist, nbr = d.topk(k, dim=-1, largest=False)
    ok = torch.isfinite(dist)[..., None].to(start.dtype)
    rows = torch.arange(B, device=start.device)[:, None, None]
    a, b = start[rows, nbr] * ok, end[rows, nbr] * ok
    n = ok.sum(-2, keepdim=True).clamp(min=1)
    a = (a - a.sum(-2, keepdim=True) / n) * ok
    b = (b - b.sum(-2, keepdim=True) / n) * ok
    return proper_rotations(a, b)


def fractional_rotation(rot: torch.Tensor, w: float) -> torch.Tensor:
    """``rot ** w`` along the shortest arc (axis kept, angle scaled)."""
    axis, angle = o3.matrix_to_axis_angle(rot)
    return o3.axis_angle_to_matrix(axis, angle * w)


def latent_path(start: Latent, end: Latent, frames: int, irreps: str, kind: str = "geodesic") -> list[Latent]:
    """``frames`` latents from ``start`` to ``end`` (inclusive) along the ``kind`` path."""
    if kind not in PATHS:
        raise ValueError(f"unknown latent path {kind!r} (known: {', '.join(PATHS)})")
    weights = torch.linspace(0, 1, frames).tolist()
    mix = lambda a, b, w: (1 - w) * a + w * b  # noqa: E731
    if kind == "linear":
        return [Latent(mix(start.positions, end.positions, w), mix(start.features, end.features, w), start.mask) for w in weights]
    rep = o3.Irreps(irreps)
    rot = local_rotations(start.positions, end.positions, start.mask & end.mask)
    back = torch.einsum("bmij,bmj->bmi", rep.D_from_matrix(rot.transpose(-1, -2)), end.features)  # end in start's orientation
    out = []
    for w in weights:
        turn = rep.D_from_matrix(fractional_rotation(rot, w))
        features = torch.einsum("bmij,bmj->bmi", turn, mix(start.features, back, w))
        out.append(Latent(mix(start.positions, end.positions, w), features * start.mask[..., None], start.mask))
    return out
