"""SO(3)-equivariant noise predictor for Ophiuchus latents: a fully connected graph over a chain of nodes.

A latent is a chain of N coarse nodes (padding at the end), each with a position and equivariant
features. Every pair of real nodes of a sample exchanges messages (N is small) through
:class:`gen3d.nn.InteractionBlock`; the radial MLP of each edge sees a Bessel basis of the
distance, the bounded monotone r / (r + cutoff) (edges never drop out, so distant pairs keep a
distance signal) and a learned embedding of the sequence separation. Nodes start from their
features plus invariant scalars: the diffusion time, their relative position along the chain
and, when ``chiral``, the handedness of the chain around them (a pseudo-torsion). That last
scalar is odd under reflection, which makes the network SO(3)- but not O(3)-equivariant:
natural proteins are chiral, and an O(3)-equivariant denoiser would sample mirror images (which
an equivariant decoder turns into mirror-image proteins) as often as the real thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from diffusers.models.embeddings import get_timestep_embedding
from e3nn import o3
from torch import nn

from gen3d.models.configs import known_fields
from gen3d.nn import InteractionBlock, RadialEmbedding
from gen3d.nn.norm import EquivariantRMSNorm
from gen3d.nn.scatter import scatter_sum


ARCHITECTURES = ("graph", "frames")
FRAME_FIELDS = ("architecture", "window", "width", "heads", "pair_dim", "self_condition")


@dataclass(frozen=True)
class DenoiserConfig:
    """Architecture of :class:`LatentDenoiser`. Lengths (``cutoff``) are in the units the positions arrive in."""

    latent_irreps: str = "16x0e + 8x1o + 4x2e"
    irreps_hidden: str = "64x0e + 16x1o + 8x2e"
    num_layers: int = 4
    lmax_sh: int = 2
    cutoff: float = 4.0
    num_basis: int = 12
    radial_hidden: int = 64
    max_seq_sep: int = 8
    seq_dim: int = 8
    time_dim: int = 32
    chain_basis: int = 4
    avg_num_neighbors: float = 16.0
    chiral: bool = True
    norm: bool = False  # EquivariantRMSNorm after every layer: keeps dense graphs of many nodes from blowing up at init
    # "graph" (this module) or "frames" (gen3d.models.ophiuchus.frame_denoiser); the fields below are the latter's.
    architecture: str = "graph"
    window: int = 8  # chain neighbours on each side read in a node's frame
    width: int = 192
    heads: int = 8
    pair_dim: int = 32
    self_condition: bool = False  # frames only: also read the previous x0 estimate (Chen et al. 2022, "Analog Bits")

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown denoiser architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.self_condition and self.architecture != "frames":
            raise ValueError("self_condition needs architecture = \"frames\"")

    def to_dict(self) -> dict:
        """The settings; a graph denoiser's leave out the frame denoiser's fields (cards written before they existed)."""
        d = asdict(self)
        if not self.self_condition:  # likewise for cards written before self-conditioning existed
            del d["self_condition"]
        return {k: v for k, v in d.items() if k not in FRAME_FIELDS} if self.architecture == "graph" else d

    @classmethod
    def from_dict(cls, d: dict) -> "DenoiserConfig":
        return cls(**known_fields(cls, d, "denoiser"))


def dense_graph(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All ordered pairs (src != dst) of real nodes of each sample.

    Returns ``node`` (flat indices into B*N of the real nodes), ``edge_index`` (2, E) into the
    real nodes, and the sequence separation ``dst - src`` of every edge.
    """
    B, N = mask.shape
    node = mask.reshape(-1).nonzero().squeeze(1)
    compact = torch.full((B * N,), -1, dtype=torch.long, device=mask.device)
    compact[node] = torch.arange(len(node), device=mask.device)
    pairs = mask[:, :, None] & mask[:, None, :] & ~torch.eye(N, dtype=torch.bool, device=mask.device)
    b, i, j = pairs.nonzero(as_tuple=True)
    return node, torch.stack([compact[b * N + i], compact[b * N + j]]), j - i


def pseudo_torsion(positions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Normalised triple product ``(a x b) . c / (|a| |b| |c|)`` of the bonds a, b, c joining nodes
    i-1, i, i+1, i+2, at node i (0 where undefined); shape (B, N). Like the sine of that pseudo-torsion
    it lies in [-1, 1] and is SO(3)- and translation-invariant but odd under reflection: the chain's handedness.
    """
    bond = positions[:, 1:] - positions[:, :-1]  # (B, N-1, 3)
    out = positions.new_zeros(mask.shape)
    if bond.shape[1] < 3:
        return out
    a, b, c = bond[:, :-2], bond[:, 1:-1], bond[:, 2:]
    triple = (torch.cross(a, b, dim=-1) * c).sum(-1)
    norms = (a.norm(dim=-1) * b.norm(dim=-1) * c.norm(dim=-1)).clamp_min(1e-6)
    valid = mask[:, 3:]  # node i+2 real => nodes i-1..i+2 real (padding is at the end)
    out[:, 1:-2] = torch.where(valid, triple / norms, torch.zeros_like(triple))
    return out


def chain_features(mask: torch.Tensor, num: int, dtype: torch.dtype) -> torch.Tensor:
    """``cos(k pi u)`` for k = 1..num of the relative chain position ``u = i / (n - 1)`` in [0, 1]; (B, N, num)."""
    n = mask.sum(1, keepdim=True).clamp_min(2) - 1
    u = torch.arange(mask.shape[1], device=mask.device, dtype=dtype)[None] / n.to(dtype)
    k = torch.arange(1, num + 1, device=mask.device, dtype=dtype)
    return torch.cos(torch.pi * u[..., None] * k)


class LatentDenoiser(nn.Module):
    """Predicts the noise on (positions, features) of a batch of padded latent chains; see module docstring."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or DenoiserConfig()
        self.irreps_latent = o3.Irreps(c.latent_irreps)
        # Sorted: scalars first, the order in which the gates emit them.
        self.irreps_hidden = o3.Irreps(c.irreps_hidden).sort().irreps.simplify()
        if o3.Irrep("1o") not in [ir for _, ir in self.irreps_hidden]:
            raise ValueError(f"irreps_hidden {c.irreps_hidden!r} needs 1o channels for the position noise")
        self.irreps_sh = o3.Irreps.spherical_harmonics(c.lmax_sh)
        num_node_scalars = c.time_dim + c.chain_basis + int(c.chiral)
        irreps_in = self.irreps_latent + o3.Irreps(f"{num_node_scalars}x0e")
        self.time_mlp = nn.Sequential(nn.Linear(c.time_dim, c.time_dim), nn.SiLU(), nn.Linear(c.time_dim, c.time_dim))
        self.radial = RadialEmbedding(c.cutoff, c.num_basis)
        self.seq_embedding = nn.Embedding(2 * c.max_seq_sep + 1, c.seq_dim)
        edge_scalars = c.num_basis + 1 + c.seq_dim
        irreps = [irreps_in] + [self.irreps_hidden] * c.num_layers
        self.time_proj = nn.ModuleList(o3.Linear(f"{c.time_dim}x0e", a) for a in irreps[:-1])
        self.layers = nn.ModuleList(
            InteractionBlock(a, b, self.irreps_sh, edge_scalars, c.radial_hidden, c.avg_num_neighbors)
            for a, b in zip(irreps[:-1], irreps[1:])
        )
        self.norms = nn.ModuleList(EquivariantRMSNorm(self.irreps_hidden) for _ in range(c.num_layers)) if c.norm else None
        self.feature_head = o3.Linear(self.irreps_hidden, self.irreps_latent)
        self.feature_skip = o3.Linear(self.irreps_latent, self.irreps_latent)
        self.position_head = o3.Linear(self.irreps_hidden, "1x1o")
        self.position_skip = nn.Linear(c.time_dim, 1)

    def forward(
        self, positions: torch.Tensor, features: torch.Tensor, t: torch.Tensor | int, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise estimates ``(eps_positions (B, N, 3), eps_features (B, N, D))`` at diffusion timestep(s) ``t``.

        ``eps_positions`` has zero mean over each sample's real nodes; padded rows are zero.
        """
        c = self.config
        B, N, _ = positions.shape
        dtype = positions.dtype
        mask = mask.bool()
        t = torch.as_tensor(t, device=positions.device).reshape(-1).expand(B)
        node, edge_index, seq_sep = dense_graph(mask)
        sample_of = node // N
        counts = mask.sum(1, keepdim=True).clamp_min(1).to(dtype)

        def minus_sample_mean(v: torch.Tensor) -> torch.Tensor:
            return v - (scatter_sum(v, sample_of, B) / counts)[sample_of]

        pos = positions.reshape(B * N, 3)[node]
        centred = minus_sample_mean(pos)

        sinusoid = get_timestep_embedding(t, c.time_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        temb = self.time_mlp(sinusoid.to(dtype))
        scalars = [temb[:, None].expand(B, N, c.time_dim), chain_features(mask, c.chain_basis, dtype)]
        if c.chiral:
            scalars.append(pseudo_torsion(positions, mask)[..., None])
        feats = features.reshape(B * N, -1)[node]
        x = torch.cat([feats, torch.cat(scalars, -1).reshape(B * N, -1)[node]], -1)

        src, dst = edge_index
        vec = pos[dst] - pos[src]
        dist = vec.norm(dim=-1)
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        sep = seq_sep.clamp(-c.max_seq_sep, c.max_seq_sep) + c.max_seq_sep
        edge = torch.cat([self.radial(dist), (dist / (dist + c.cutoff))[:, None], self.seq_embedding(sep).to(dtype)], 1)

        node_time = temb[sample_of]
        for k, (proj, layer) in enumerate(zip(self.time_proj, self.layers)):
            x = layer(x + proj(node_time), edge_index, sh, edge)
            if self.norms is not None:
                x = self.norms[k](x)

        eps_feat = self.feature_head(x) + self.feature_skip(feats)
        # Skip term with a time-only gain: eps ~ x_t at high noise is easy to learn, and the
        # output stays linear in the input (a gain from node features would make it quadratic).
        eps_pos = minus_sample_mean(self.position_head(x) + self.position_skip(node_time) * centred)

        out_pos = positions.new_zeros(B * N, 3).index_copy(0, node, eps_pos)
        out_feat = features.new_zeros(B * N, features.shape[-1]).index_copy(0, node, eps_feat)
        return out_pos.view(B, N, 3), out_feat.view(B, N, -1)
