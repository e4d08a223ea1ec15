"""Stack of interaction blocks turning (species, positions) into equivariant node features."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from gen3d.nn.graph import radius_graph
from gen3d.nn.interaction import InteractionBlock
from gen3d.nn.radial import RadialEmbedding


class EquivariantEmbedding(nn.Module):
    """E(3)-equivariant node features from a point cloud with categorical species (NequIP-like)."""

    def __init__(
        self,
        num_species: int,
        irreps_hidden: str,
        num_layers: int = 3,
        lmax_sh: int = 2,
        cutoff: float = 5.0,
        num_basis: int = 8,
        radial_hidden: int = 64,
        avg_num_neighbors: float = 10.0,
    ) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.irreps_hidden = o3.Irreps(irreps_hidden)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax_sh)
        num_scalars = self.irreps_hidden.count("0e")
        self.species_embedding = nn.Embedding(num_species, num_scalars)
        self.radial = RadialEmbedding(cutoff, num_basis)
        irreps = [o3.Irreps(f"{num_scalars}x0e")] + [self.irreps_hidden] * num_layers
        self.layers = nn.ModuleList(
            InteractionBlock(a, b, self.irreps_sh, num_basis, radial_hidden, avg_num_neighbors)
            for a, b in zip(irreps[:-1], irreps[1:])
        )

    def forward(self, species: torch.Tensor, positions: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        edge_index = radius_graph(positions, batch, self.cutoff)
        vec = positions[edge_index[1]] - positions[edge_index[0]]
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        radial = self.radial(vec.norm(dim=-1))
        x = self.species_embedding(species)
        for layer in self.layers:
            x = layer(x, edge_index, sh, radial)
        return x
