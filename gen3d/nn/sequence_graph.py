"""k-nearest-neighbour graphs over padded batches of chains, with sequence-separation edge features."""

from __future__ import annotations

import torch

MAX_SEPARATION = 4  # |i - j| above this shares one "far in sequence" feature


def knn_graph(positions: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Directed edges ``(src, dst)`` over flattened ``(B * N)`` nodes: each real node receives from its
    ``k`` nearest real nodes of the same chain (fewer if the chain is shorter). Cost B * N^2 distances."""
    B, N, _ = positions.shape
    k = min(k, N - 1)
    if k <= 0:
        return torch.zeros(2, 0, dtype=torch.long, device=positions.device)
    dist = torch.cdist(positions, positions)
    invalid = ~(mask[:, :, None] & mask[:, None, :]) | torch.eye(N, dtype=torch.bool, device=positions.device)
    dist = dist.masked_fill(invalid, float("inf"))
    value, index = dist.topk(k, dim=-1, largest=False)  # (B, N, k)
    keep = torch.isfinite(value)
    b, i, slot = keep.nonzero(as_tuple=True)
    j = index[b, i, slot]
    return torch.stack([b * N + j, b * N + i])


def separation_features(edge_index: torch.Tensor, length: int) -> torch.Tensor:
    """One-hot of the signed sequence separation ``j - i`` clipped to ±MAX_SEPARATION, plus a "far" flag."""
    src, dst = edge_index
    sep = (src % length) - (dst % length)
    far = sep.abs() > MAX_SEPARATION
    index = torch.where(far, torch.full_like(sep, 2 * MAX_SEPARATION + 1), sep.clamp(-MAX_SEPARATION, MAX_SEPARATION) + MAX_SEPARATION)
    return torch.nn.functional.one_hot(index, 2 * MAX_SEPARATION + 2).float()


NUM_SEPARATION_FEATURES = 2 * MAX_SEPARATION + 2
