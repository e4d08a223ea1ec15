"""Radius x sphere grid on which Symphony's position distribution is normalised and sampled."""

from __future__ import annotations

import math

import torch
from e3nn import o3


def fibonacci_sphere(num: int) -> torch.Tensor:
    """``num`` nearly uniform unit vectors (golden-spiral lattice), each covering 4 pi / num sr."""
    i = torch.arange(num, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * i / num
    phi = math.pi * (1.0 + 5.0**0.5) * i
    rho = torch.sqrt(1.0 - z**2)
    return torch.stack([rho * torch.cos(phi), rho * torch.sin(phi), z], dim=-1).float()


def sh(lmax: int, vectors: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics up to ``lmax`` (component normalisation) of unit vectors."""
    return o3.spherical_harmonics(list(range(lmax + 1)), vectors, normalize=True, normalization="component")


def tangent_offsets(radius: float, rings: int = 3) -> torch.Tensor:
    """A small hexagonal patch of 2-D offsets (radians) used to refine a sampled grid direction."""
    pts = [(0.0, 0.0)]
    for k in range(1, rings + 1):
        rho = radius * k / rings
        n = 6 * k
        pts += [(rho * math.cos(2 * math.pi * j / n), rho * math.sin(2 * math.pi * j / n)) for j in range(n)]
    return torch.tensor(pts, dtype=torch.float32)


def tangent_basis(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two unit vectors orthogonal to each row of ``u`` (and to each other)."""
    helper = torch.where(
        (u[..., :1].abs() < 0.9), torch.tensor([1.0, 0.0, 0.0], device=u.device), torch.tensor([0.0, 1.0, 0.0], device=u.device)
    )
    e1 = torch.nn.functional.normalize(torch.cross(u, helper, dim=-1), dim=-1)
    e2 = torch.cross(u, e1, dim=-1)
    return e1, e2
