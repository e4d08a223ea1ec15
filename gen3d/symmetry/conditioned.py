"""An e3nn network conditioned on a symmetry-breaking object b, fed to every node as extra input irreps.

Nodes start from ``[one-hot species (0e), extra scalars such as time (0e), b (its irreps)]`` and
exchange messages over the complete graph of each structure (NequIP-style interaction blocks from
:mod:`gen3d.nn`). The network is O(3)-equivariant in (positions, b) jointly:
f(R x, D(R) b) = R . f(x, b); with b = 0 it is equivariant in x alone, so its output keeps every
symmetry of a symmetric input.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from gen3d.nn.interaction import InteractionBlock
from gen3d.nn.radial import RadialEmbedding

HIDDEN = "8x0e+4x0o+4x1o+4x1e+2x2e+2x2o"


def complete_graph(batch: int, n: int, device: torch.device | None = None) -> torch.Tensor:
    """Directed edges between all distinct nodes of each of ``batch`` graphs of ``n`` nodes (flattened)."""
    src, dst = torch.meshgrid(torch.arange(n, device=device), torch.arange(n, device=device), indexing="ij")
    keep = src != dst
    offsets = (torch.arange(batch, device=device) * n)[:, None]
    return torch.stack([(src[keep][None] + offsets).reshape(-1), (dst[keep][None] + offsets).reshape(-1)])


class BreakingNetwork(nn.Module):
    """Per-node ``irreps_out`` from (species, positions, b[, scalars]) for a batch of structures of equal size."""

    def __init__(
        self,
        irreps_b: str,
        num_species: int,
        irreps_out: str = "1x0e+1x1o",
        num_scalars: int = 0,
        irreps_hidden: str = HIDDEN,
        num_layers: int = 2,
        lmax: int = 2,
        cutoff: float = 10.0,
        num_basis: int = 8,
    ) -> None:
        super().__init__()
        self.irreps_b, self.irreps_out = o3.Irreps(irreps_b), o3.Irreps(irreps_out)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        irreps_in = o3.Irreps(f"{num_species + num_scalars}x0e") + self.irreps_b
        self.radial = RadialEmbedding(cutoff, num_basis)
        sizes = [irreps_in] + [o3.Irreps(irreps_hidden)] * num_layers
        self.layers = nn.ModuleList(
            InteractionBlock(a, b, self.irreps_sh, num_basis, radial_hidden=32, avg_num_neighbors=8.0)
            for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.readout = o3.Linear(sizes[-1], self.irreps_out)

    def node_inputs(self, species: torch.Tensor, b: torch.Tensor, scalars: torch.Tensor | None, n: int) -> torch.Tensor:
        """``(B * n, dim)`` node inputs: species one-hot ``(n, S)``, then scalars ``(B, s)`` and b ``(B, d)`` on every node."""
        batch = b.shape[0]
        parts = [species.to(b.dtype).expand(batch, n, -1)]
        if scalars is not None:
            parts.append(scalars[:, None, :].expand(batch, n, -1))
        parts.append(b[:, None, :].expand(batch, n, -1))
        return torch.cat(parts, -1).reshape(batch * n, -1)

    def forward(self, species: torch.Tensor, pos: torch.Tensor, b: torch.Tensor, scalars: torch.Tensor | None = None) -> torch.Tensor:
        """``species`` one-hot ``(n, S)``, ``pos`` ``(B, n, 3)``, ``b`` ``(B, d)`` -> ``(B, n, irreps_out.dim)``."""
        batch, n = pos.shape[:2]
        edges = complete_graph(batch, n, pos.device)
        flat = pos.reshape(batch * n, 3)
        vec = flat[edges[1]] - flat[edges[0]]
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        radial = self.radial(vec.norm(dim=-1))
        x = self.node_inputs(species, b, scalars, n)
        for layer in self.layers:
            x = layer(x, edges, sh, radial)
        return self.readout(x).reshape(batch, n, -1)


def soft_select(logits: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax-weighted node position ``(B, 3)`` from per-node logits ``(B, n)`` (``mask``: selectable nodes)."""
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return (logits.softmax(-1)[..., None] * pos).sum(1)
