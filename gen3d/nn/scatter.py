"""Segment reductions over a ``batch``/``index`` vector (no torch_scatter dependency)."""

from __future__ import annotations

import torch


def scatter_sum(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of ``src`` into ``size`` segments."""
    out = src.new_zeros((size, *src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_mean(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of rows of ``src`` per segment (empty segments give 0)."""
    total = scatter_sum(src, index, size)
    count = scatter_sum(torch.ones_like(index, dtype=src.dtype), index, size).clamp_min(1)
    return total / count.view(-1, *([1] * (src.dim() - 1)))


def scatter_max(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Max of a 1-D ``src`` per segment (empty segments give -inf)."""
    out = src.new_full((size,), float("-inf"))
    return out.scatter_reduce(0, index, src, reduce="amax", include_self=True)
