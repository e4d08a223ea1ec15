"""The EquiJump network: light equivariant convolutions over neighbour pairs of the current frame.

Edges join atoms within ``cutoff`` in the current frame x0 (fixed for a whole jump). Each edge is
oriented along the interpolated frame's xs_ij and carries invariant features (both distances, their
difference, which locates bond-length errors precisely, and the residue-separation class); each node starts from its atom token, the interpolant time and its
displacement xs - x0, so the current frame's directions enter through r0_ij = rs_ij - (d_i - d_j).
With ``chirality`` > 0 each atom also gets that many learned pseudoscalars v1 . (v2 x v3) of its
current-frame neighbourhood (v_k: sums of bond directions weighted by the neighbour's token and
distance). They tell an L from a D centre, which parity-equivariant features cannot, so the
network is equivariant to rotations only, as the dynamics of a chiral molecule requires.
``cross_products`` does the same inside the message passing (pseudovector d x u messages).
``message_scalars`` > 0 lets every message's weights see both atoms' scalar states (EGNN-style).
The head returns one vector per atom for the drift b (or, with the endpoint parameterisation,
x1 - xs) and one for the denoiser eta.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet
from torch import nn

from gen3d.models.equijump.config import EquiJumpConfig
from gen3d.nn.graph import radius_graph
from gen3d.nn.light_interaction import LightInteractionBlock, channel_counts
from gen3d.nn.scatter import scatter_sum


def gaussian_basis(r: torch.Tensor, cutoff: float, num: int) -> torch.Tensor:
    """Gaussians of width cutoff / num centred on 0..cutoff (smooth, no hard edge)."""
    centres = torch.linspace(0.0, cutoff, num, device=r.device, dtype=r.dtype)
    width = cutoff / num
    return torch.exp(-(((r[:, None] - centres) / width) ** 2))


def time_features(s: torch.Tensor, frequencies: int) -> torch.Tensor:
    """Sines and cosines of the interpolant time at octave frequencies."""
    k = (2.0 ** torch.arange(frequencies, device=s.device, dtype=s.dtype)) * math.pi
    return torch.cat([torch.sin(s[:, None] * k), torch.cos(s[:, None] * k)], dim=-1)


def directions(vectors: torch.Tensor) -> torch.Tensor:
    """Spherical harmonics l = 0..2 (component normalisation) of unit vectors; zero vectors stay finite."""
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return o3.spherical_harmonics([0, 1, 2], unit, normalize=False, normalization="component")


class EquiJumpNet(nn.Module):
    """(tokens, residue index, x0, xs, s) -> (b, eta), equivariant to rotations and translations of the system."""

    def __init__(self, config: EquiJumpConfig) -> None:
        super().__init__()
        self.config = config
        hidden = o3.Irreps(config.irreps_hidden)
        S, _, _ = channel_counts(hidden)
        self.token = nn.Embedding(max(len(config.vocabulary), 1), S)
        self.time = nn.Sequential(nn.Linear(2 * config.time_frequencies, S), nn.SiLU(), nn.Linear(S, S))
        self.chiral = None
        if config.chirality:
            self.chiral = FullyConnectedNet([config.num_basis + S, config.radial_hidden, 3 * config.chirality], nn.functional.silu)
        self.embed = o3.Linear(o3.Irreps(f"{S + 1 + config.chirality}x0e + 1x1o"), hidden)
        self.num_classes = 2 * config.max_separation + 1
        num_edge = 2 * config.num_basis + self.num_classes + 1
        self.blocks = nn.ModuleList(
            LightInteractionBlock(hidden, num_edge, config.radial_hidden, avg_num_neighbors=20.0, cross=config.cross_products,
                                  node_scalars=config.message_scalars) for _ in range(config.layers)
        )
        self.head = o3.Linear(hidden, o3.Irreps("2x1o"))

    def chirality_features(self, tokens: torch.Tensor, x0: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """(n, chirality) pseudoscalars v1 . (v2 x v3) from current-frame neighbours within 2 Å (bonded atoms)."""
        src, dst = edge_index
        r0 = x0[src] - x0[dst]
        length = r0.norm(dim=-1)
        near = (length < 2.0).to(x0.dtype)
        weights = self.chiral(torch.cat([gaussian_basis(length, 2.0, self.config.num_basis), self.token(tokens)[src]], -1))
        k = self.config.chirality
        vectors = weights.view(-1, 3, k, 1) * (near / length.clamp_min(1e-6))[:, None, None, None] * r0[:, None, None, :]
        v = scatter_sum(vectors.reshape(len(src), -1), dst, len(x0)).view(-1, 3, k, 3)
        return (v[:, 0] * torch.cross(v[:, 1], v[:, 2], dim=-1)).sum(-1)

    def edges(self, x0: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """Neighbour pairs in the current frame (fixed for a whole jump)."""
        return radius_graph(x0, batch, self.config.cutoff)

    def context(self, x0: torch.Tensor, batch: torch.Tensor, tokens: torch.Tensor | None = None,
                residue_index: torch.Tensor | None = None) -> torch.Tensor:
        """What a whole jump shares, computed once per jump: the neighbour pairs."""
        return self.edges(x0, batch)

    def forward(
        self, tokens: torch.Tensor, residue_index: torch.Tensor, x0: torch.Tensor, xs: torch.Tensor, s: torch.Tensor,
        batch: torch.Tensor, edge_index: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``s``: one time per system (B,); returns (b or x1 - xs) and eta, each (n, 3)."""
        cfg = self.config
        if edge_index is None:
            edge_index = self.edges(x0, batch)
        src, dst = edge_index
        r0, rs = x0[src] - x0[dst], xs[src] - xs[dst]
        sep = (residue_index[src] - residue_index[dst]).clamp(-cfg.max_separation, cfg.max_separation) + cfg.max_separation
        len0, lens = r0.norm(dim=-1), rs.norm(dim=-1)
        features = torch.cat(
            [gaussian_basis(len0, cfg.cutoff, cfg.num_basis), gaussian_basis(lens, cfg.cutoff, cfg.num_basis),
             nn.functional.one_hot(sep, self.num_classes).to(x0.dtype), (lens - len0)[:, None]], dim=-1,
        )
        sh = directions(rs)
        d = xs - x0
        scalars = [self.token(tokens) + self.time(time_features(s, cfg.time_frequencies))[batch], d.norm(dim=-1, keepdim=True)]
        if self.chiral is not None:
            scalars.append(self.chirality_features(tokens, x0, edge_index))
        scalars = torch.cat(scalars, -1)
        h = self.embed(torch.cat([scalars, d], dim=-1))
        for block in self.blocks:
            h = block(h, edge_index, sh, features)
        out = self.head(h)
        return out[:, :3], out[:, 3:]
