"""Neighbour lists for batched point clouds."""

from __future__ import annotations

import torch


def radius_graph(positions: torch.Tensor, batch: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Directed edges ``(src, dst)`` between distinct atoms of the same graph closer than cutoff.

    Dense within the batch (fine for molecules and fragments of up to a few thousand atoms).
    """
    same = batch[:, None] == batch[None, :]
    close = torch.cdist(positions, positions) < cutoff
    mask = same & close
    mask.fill_diagonal_(False)
    src, dst = mask.nonzero(as_tuple=True)
    return torch.stack([src, dst])
