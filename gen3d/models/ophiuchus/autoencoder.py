"""The Ophiuchus hourglass: residues -> coarse latent (positions + irreps) -> residues with all heavy atoms.

Encoder: residue features at Cα, local k-NN convolutions, then ``levels`` sequence coarsenings
(each followed by convolutions on the coarse graph). The decoder mirrors it. Every graph is a
k-NN graph and every coarsening divides the node count, so the cost is linear in length (plus
the N^2 distance matrix of the neighbour search).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from e3nn import o3
from torch import nn

from gen3d.models.ophiuchus.config import OphiuchusConfig
from gen3d.models.ophiuchus.features import IRREPS_IN, IRREPS_OUT, decode_residues, encode_residues
from gen3d.models.ophiuchus.type_readout import ReadoutEnsemble, TypeReadout
from gen3d.nn.coarsening import SequenceCoarsening, SequenceRefinement
from gen3d.nn.light_interaction import LightInteractionBlock
from gen3d.nn.norm import EquivariantRMSNorm
from gen3d.nn.radial import RadialEmbedding
from gen3d.nn.sequence_graph import NUM_SEPARATION_FEATURES, knn_graph, separation_features

CA_SPACING = 3.8  # Å between consecutive Cα; the offset scale of the first coarsening


@dataclass
class Latent:
    """Coarse nodes of a batch of chains: positions (B, M, 3) Å, features (B, M, D), mask (B, M)."""

    positions: torch.Tensor
    features: torch.Tensor
    mask: torch.Tensor


@dataclass
class Decoded:
    """Decoder output per residue: type logits (B, N, 20), Cα (B, N, 3) and raw output features."""

    logits: torch.Tensor
    ca: torch.Tensor
    features: torch.Tensor

    def coords(self, aatype: torch.Tensor | None = None) -> torch.Tensor:
        """Heavy atoms (B, N, 14, 3) for ``aatype`` (default: the predicted types)."""
        aatype = self.logits.argmax(-1) if aatype is None else aatype
        return decode_residues(self.ca, self.features, aatype)


def type_readout(cfg: OphiuchusConfig, dropout: float = 0.0) -> TypeReadout | ReadoutEnsemble:
    """The residue-type readout a config asks for: one network, or an ensemble of ``type_readout_members``."""
    coarse = [(cfg.irreps_at(level), cfg.stride**level) for level in range(1, cfg.type_readout_levels + 1)]

    def member() -> TypeReadout:
        return TypeReadout(cfg.irreps_at(0), cfg.type_readout_width, cfg.type_readout_kernel, cfg.type_readout_layers,
                           dropout, coarse)

    return member() if cfg.type_readout_members == 1 else ReadoutEnsemble([member() for _ in range(cfg.type_readout_members)])


class LocalConvolution(nn.Module):
    """Message passing on the k-NN graph of one level (edge SH, radial basis + sequence separation)."""

    def __init__(self, cfg: OphiuchusConfig, level: int) -> None:
        super().__init__()
        irreps, cutoff = cfg.irreps_at(level), cfg.cutoff_at(level)
        self.k = cfg.neighbors
        self.irreps_sh = o3.Irreps.spherical_harmonics(2)
        self.radial = RadialEmbedding(cutoff, cfg.num_basis)
        self.blocks = nn.ModuleList(
            LightInteractionBlock(irreps, cfg.num_basis + NUM_SEPARATION_FEATURES, cfg.radial_hidden, cfg.neighbors)
            for _ in range(cfg.convs_per_level)
        )

    def forward(self, x: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, N, D = h.shape
        edges = knn_graph(x, mask, self.k)
        flat = x.reshape(B * N, 3)
        vec = flat[edges[0]] - flat[edges[1]]
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        radial = torch.cat([self.radial(vec.norm(dim=-1)), separation_features(edges, N)], -1)
        out = h.reshape(B * N, D)
        for block in self.blocks:
            out = block(out, edges, sh, radial)
        return out.view(B, N, D) * mask[..., None]


class Ophiuchus(nn.Module):
    """SO(3)-equivariant hierarchical autoencoder of protein chains (all heavy atoms + residue types)."""

    def __init__(self, config: OphiuchusConfig) -> None:
        super().__init__()
        self.config = cfg = config
        width = [cfg.irreps_at(level) for level in range(cfg.levels + 1)]
        levels, top = range(cfg.levels), cfg.levels
        self.embed = o3.Linear(IRREPS_IN, width[0])
        self.enc_conv = nn.ModuleList(LocalConvolution(cfg, level) for level in range(top + 1))
        self.coarsen = nn.ModuleList(
            SequenceCoarsening(width[l], width[l + 1], cfg.stride, CA_SPACING * cfg.stride**l) for l in levels
        )
        self.to_latent = o3.Linear(width[top], cfg.irreps_latent)
        self.from_latent = o3.Linear(cfg.irreps_latent, width[top])
        self.dec_conv = nn.ModuleList(LocalConvolution(cfg, level) for level in range(top + 1))
        self.refine = nn.ModuleList(
            SequenceRefinement(width[l + 1], width[l], cfg.stride, CA_SPACING * cfg.stride**l) for l in levels
        )
        self.head = o3.Linear(width[0], IRREPS_OUT)
        self.enc_norm = nn.ModuleList(EquivariantRMSNorm(w) for w in width)
        self.dec_norm = nn.ModuleList(EquivariantRMSNorm(w) for w in width)
        self.type_readout = type_readout(cfg) if cfg.type_readout_kernel > 0 else None

    @property
    def compression(self) -> int:
        return self.config.compression

    def padded_length(self, n: int) -> int:
        c = self.compression
        return -(-n // c) * c

    def encode(self, aatype: torch.Tensor, coords: torch.Tensor, atom_mask: torch.Tensor, mask: torch.Tensor) -> Latent:
        """Latent of residues ``(B, N)`` (N a multiple of the compression; ``mask`` marks real residues)."""
        x, feats = encode_residues(aatype, coords, atom_mask & mask[..., None])
        h = self.embed(feats) * mask[..., None]
        h = self.enc_norm[0](h + self.enc_conv[0](x, h, mask))
        for level, coarsen in enumerate(self.coarsen):
            x, h, mask = coarsen(x, h, mask)
            h = self.enc_norm[level + 1](h + self.enc_conv[level + 1](x, h, mask))
        return Latent(x, self.to_latent(h) * mask[..., None], mask)

    def decode(self, latent: Latent, mask: torch.Tensor | None = None) -> Decoded:
        """Residues from a latent; ``mask`` (B, N) marks the residues wanted (default: all children of real nodes)."""
        ca, hidden, out, mask = self.decode_features(latent, mask)
        logits = out[..., :20] if self.type_readout is None else self.type_readout.from_decoder(hidden, out, mask)
        return Decoded(logits, ca, out)

    def decode_features(self, latent: Latent, mask: torch.Tensor | None = None) -> tuple:
        """Decoder state: Cα (B, N, 3), hidden features of every level (residue level first), head output and
        residue mask (B, N)."""
        cfg = self.config
        x, h, node_mask = latent.positions, self.from_latent(latent.features), latent.mask
        masks = [node_mask]
        for _ in range(cfg.levels):
            masks.append(masks[-1].repeat_interleave(cfg.stride, dim=1))
        if mask is not None:
            masks[-1] = masks[-1] & mask
        h = self.dec_norm[cfg.levels](h + self.dec_conv[cfg.levels](x, h, masks[0]))
        hidden = [h]
        for step, level in enumerate(reversed(range(cfg.levels))):
            x, h = self.refine[level](x, h)
            m = masks[step + 1]
            h = h * m[..., None]
            h = self.dec_norm[level](h + self.dec_conv[level](x, h, m))
            hidden.insert(0, h)
        return x, hidden, self.head(h), masks[-1]

    def forward(self, aatype, coords, atom_mask, mask) -> Decoded:
        return self.decode(self.encode(aatype, coords, atom_mask, mask), mask)
