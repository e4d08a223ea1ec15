"""Equivariant RMS normalisation: each irrep type's channels scaled by their joint RMS norm."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn


class EquivariantRMSNorm(nn.Module):
    """x_l <- g_l * x_l / sqrt(mean over channels of |x_l|^2 / (2l+1) + eps), per irrep type (rotation-invariant
    scale, so equivariance holds); keeps deep hourglasses from blowing up at initialisation."""

    def __init__(self, irreps: str | o3.Irreps, eps: float = 1e-5) -> None:
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.eps = eps
        self.blocks = [(s.start, s.stop, mul, ir.dim) for s, (mul, ir) in zip(self.irreps.slices(), self.irreps)]
        self.scale = nn.Parameter(torch.ones(self.irreps.num_irreps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, k = [], 0
        for start, stop, mul, dim in self.blocks:
            block = x[..., start:stop].unflatten(-1, (mul, dim))
            rms = (block.pow(2).mean((-1, -2), keepdim=True) + self.eps).sqrt()
            out.append((block / rms * self.scale[k : k + mul, None]).flatten(-2))
            k += mul
        return torch.cat(out, -1)
