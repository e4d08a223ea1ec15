"""Radial bases for edge lengths: Bessel functions times a smooth polynomial cutoff (NequIP)."""

from __future__ import annotations

import math

import torch
from torch import nn


class BesselBasis(nn.Module):
    """``sqrt(2/c) sin(n pi r / c) / r`` for n = 1..num_basis, with trainable frequencies."""

    def __init__(self, cutoff: float, num_basis: int = 8, trainable: bool = True) -> None:
        super().__init__()
        self.cutoff = cutoff
        freqs = math.pi * torch.arange(1, num_basis + 1, dtype=torch.float32) / cutoff
        self.freqs = nn.Parameter(freqs, requires_grad=trainable)
        self.prefactor = math.sqrt(2.0 / cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1).clamp_min(1e-6)
        return self.prefactor * torch.sin(self.freqs * r) / r


class PolynomialCutoff(nn.Module):
    """Envelope that goes smoothly (C^p) from 1 at r = 0 to 0 at the cutoff."""

    def __init__(self, cutoff: float, p: int = 6) -> None:
        super().__init__()
        self.cutoff, self.p = cutoff, p

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        x, p = r / self.cutoff, self.p
        env = (
            1.0
            - (p + 1) * (p + 2) / 2 * x**p
            + p * (p + 2) * x ** (p + 1)
            - p * (p + 1) / 2 * x ** (p + 2)
        )
        return env * (x < 1.0)


class RadialEmbedding(nn.Module):
    """Bessel basis multiplied by the polynomial envelope: zero at and beyond the cutoff."""

    def __init__(self, cutoff: float, num_basis: int = 8, p: int = 6) -> None:
        super().__init__()
        self.basis = BesselBasis(cutoff, num_basis)
        self.envelope = PolynomialCutoff(cutoff, p)
        self.num_basis = num_basis

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.basis(r) * self.envelope(r).unsqueeze(-1)
