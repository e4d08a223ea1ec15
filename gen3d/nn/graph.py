"""Neighbour lists for batched point clouds."""

from __future__ import annotations

import torch


def radius_graph(positions: torch.Tensor, batch: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Directed edges ``(src, dst)`` between distinct atoms of the same graph closer than cutoff.

    Distances are computed per graph on a padded ``(B, n_max, n_max)`` block, so the cost is
    B * n_max^2 rather than n^2 for the whole batch. ``batch`` need not be sorted.
    """
    n = len(batch)
    if n == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=positions.device)
    if n > 1 and bool((batch[1:] < batch[:-1]).any()):
        order = torch.argsort(batch, stable=True)
        return order[radius_graph(positions[order], batch[order], cutoff)]
    num_graphs = int(batch[-1]) + 1
    counts = torch.bincount(batch, minlength=num_graphs)
    offsets = torch.cumsum(counts, 0) - counts
    n_max = int(counts.max())
    slot = torch.arange(n, device=batch.device) - offsets[batch]
    padded = positions.new_full((num_graphs, n_max, 3), float("inf"))
    padded[batch, slot] = positions
    dist = torch.cdist(padded.nan_to_num(posinf=1e6), padded.nan_to_num(posinf=1e6))
    valid = torch.arange(n_max, device=batch.device)[None, :] < counts[:, None]
    mask = (dist < cutoff) & valid[:, :, None] & valid[:, None, :]
    mask &= ~torch.eye(n_max, dtype=torch.bool, device=batch.device)
    b, i, j = mask.nonzero(as_tuple=True)
    return torch.stack([offsets[b] + i, offsets[b] + j])
