"""SO(3)-equivariant noise predictor for Ophiuchus latents that works in local chain frames.

Every node i gets a right-handed frame from its chain neighbours (the bisector and the normal of the
bonds to i-1 and i+1; the two nearest nodes on one side at the chain's ends). Everything the network
reads is expressed in those frames, so it is invariant: the offsets of the nodes within ``window``
places along the chain and their features (rotated by the Wigner D-matrix of the frame), then, through
attention over all nodes of the sample, every other node's distance, direction in the frame and
sequence separation as attention biases and values. Outputs are made in node i's frame and rotated
back: the network is exactly SO(3)-equivariant and, since frames are right-handed, not O(3)-equivariant
(natural proteins are chiral). Local chain geometry (bond angles, pseudo-torsions) is an input here,
not something message passing must rebuild, which is what the graph denoiser learned slowly.
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import get_timestep_embedding
from e3nn import o3
from torch import nn

from gen3d.models.ophiuchus.denoiser import DenoiserConfig, chain_features
from gen3d.models.ophiuchus.diffusion import centre

EPS = 1e-6


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(EPS)


def chain_frames(positions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``R (B, N, 3, 3)`` (rows: the frame's axes; ``R @ v`` takes a world vector into node i's
    frame) from the nodes i-1 and i+1 (i+1, i+2 at the start and i-1, i-2 at the end of each chain); identity on padding."""
    B, N, _ = positions.shape
    n = mask.sum(1, keepdim=True)  # (B, 1)
    if bool(((n > 0) & (n < 3)).any()):
        raise ValueError("the frame denoiser needs chains of at least 3 nodes")
    i = torch.arange(N, device=positions.device)[None].expand(B, N)
    before = torch.where(i >= 1, i - 1, i + 2)
    after = torch.where(i + 1 < n, i + 1, i - 2)
    before, after = before.clamp(0, N - 1), after.clamp(0, N - 1)
    a = torch.gather(positions, 1, before[..., None].expand(B, N, 3)) - positions
    b = torch.gather(positions, 1, after[..., None].expand(B, N, 3)) - positions
    e1 = _unit(_unit(b) - _unit(a))  # along the chain
    e2 = _unit(_unit(a) + _unit(b))  # the bisector: orthogonal to e1 for unit a, b
    e2 = _unit(e2 - (e2 * e1).sum(-1, keepdim=True) * e1)
    e3 = torch.cross(e1, e2, dim=-1)
    frames = torch.stack([e1, e2, e3], -2)
    eye = torch.eye(3, dtype=positions.dtype, device=positions.device).expand(B, N, 3, 3)
    return torch.where(mask[..., None, None], frames, eye)


class FrameDenoiser(nn.Module):
    """Predicts the noise (v) on positions and features of padded latent chains; see module docstring."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or DenoiserConfig(architecture="frames")
        self.irreps_latent = o3.Irreps(c.latent_irreps)
        D, W, K = self.irreps_latent.dim, c.width, c.window
        self.offsets = [k for k in range(-K, K + 1) if k != 0]
        window_in = len(self.offsets) * (3 + 1 + D) + D + c.time_dim + c.chain_basis
        if c.self_condition:  # the estimate's window offsets and own features, and a flag saying whether there is one
            window_in += len(self.offsets) * 3 + D + 1
        self.time_mlp = nn.Sequential(nn.Linear(c.time_dim, c.time_dim), nn.SiLU(), nn.Linear(c.time_dim, c.time_dim))
        self.embed = nn.Sequential(nn.Linear(window_in, W), nn.SiLU(), nn.Linear(W, W))
        pair_in = c.num_basis + 3 + 2 * c.max_seq_sep + 1 + (c.num_basis if c.self_condition else 0)
        self.pair = nn.Sequential(nn.Linear(pair_in, c.pair_dim), nn.SiLU(), nn.Linear(c.pair_dim, c.pair_dim))
        self.register_buffer("centres", torch.linspace(0.0, c.cutoff, c.num_basis), persistent=False)
        self.blocks = nn.ModuleList(PairBiasedAttention(W, c.heads, c.pair_dim) for _ in range(c.num_layers))
        self.time_proj = nn.ModuleList(nn.Linear(c.time_dim, W) for _ in range(c.num_layers))
        self.out_norm = nn.LayerNorm(W)
        self.head = nn.Linear(W, 3 + D)
        self.feature_skip = o3.Linear(self.irreps_latent, self.irreps_latent)
        self.position_skip = nn.Linear(c.time_dim, 1)

    def forward(
        self, positions: torch.Tensor, features: torch.Tensor, t: torch.Tensor | int, mask: torch.Tensor,
        estimate: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise estimates ``(positions (B, N, 3), features (B, N, D))``; zero mean over real nodes, zero padding.

        ``estimate``: a previous x0 estimate ``(positions, features)`` (self-conditioning; None: none yet)."""
        c = self.config
        B, N, _ = positions.shape
        mask = mask.bool()
        m = mask[..., None]
        dtype = positions.dtype
        t = torch.as_tensor(t, device=positions.device).reshape(-1).expand(B)
        pos = torch.where(m, positions, 0.0)
        feats = torch.where(m, features, 0.0)
        centred = centre(pos, mask)

        R = chain_frames(pos, mask)  # (B, N, 3, 3)
        Dm = self.irreps_latent.D_from_matrix(R)  # (B, N, D, D): features into the frame

        # Window: offsets and features of nodes i+k, in node i's frame.
        idx = torch.arange(N, device=pos.device)[:, None] + torch.tensor(self.offsets, device=pos.device)[None]  # (N, K2)
        valid = (idx >= 0) & (idx < N)
        idx = idx.clamp(0, N - 1)
        nb_pos, nb_feat, nb_mask = pos[:, idx], feats[:, idx], mask[:, idx] & valid[None]  # (B, N, K2, ...)
        rel = torch.einsum("bnij,bnkj->bnki", R, nb_pos - pos[:, :, None]) * nb_mask[..., None]
        nb_local = torch.einsum("bnij,bnkj->bnki", Dm, nb_feat) * nb_mask[..., None]
        temb = self.time_mlp(get_timestep_embedding(t, c.time_dim, flip_sin_to_cos=True, downscale_freq_shift=0).to(dtype))
        own = torch.einsum("bnij,bnj->bni", Dm, feats)
        x = torch.cat([
            rel.flatten(2), nb_mask.to(dtype), nb_local.flatten(2), own,
            temb[:, None].expand(B, N, -1), chain_features(mask, c.chain_basis, dtype),
        ], -1)
        if c.self_condition:
            x = torch.cat([x, self._estimate_inputs(estimate, pos, R, Dm, idx, nb_mask, m)], -1)
        h = self.embed(x)

        # Pairs: distance basis, direction in the frame of i, sequence separation.
        vec = pos[:, None] - pos[:, :, None]  # (B, N_i, N_j, 3): j - i
        dist = vec.norm(dim=-1)
        direction = torch.einsum("bnij,bnmj->bnmi", R, vec) / dist.clamp_min(EPS)[..., None]
        rbf = self._distance_basis(dist)
        sep = (torch.arange(N, device=pos.device)[None] - torch.arange(N, device=pos.device)[:, None])
        sep = nn.functional.one_hot(sep.clamp(-c.max_seq_sep, c.max_seq_sep) + c.max_seq_sep, 2 * c.max_seq_sep + 1)
        pair = [rbf, direction, sep.to(dtype)[None].expand(B, N, N, -1)]
        if c.self_condition:
            est = torch.zeros_like(pos) if estimate is None else torch.where(m, estimate[0], 0.0)
            est_dist = (est[:, None] - est[:, :, None]).norm(dim=-1)
            pair.append(self._distance_basis(est_dist) * float(estimate is not None))
        pair = self.pair(torch.cat(pair, -1))
        keys = mask[:, None, :] & ~torch.eye(N, dtype=torch.bool, device=pos.device)[None]

        for block, proj in zip(self.blocks, self.time_proj):
            h = block(h + proj(temb)[:, None], pair, keys)
        out = self.head(self.out_norm(h))
        eps_pos = torch.einsum("bnji,bnj->bni", R, out[..., :3]) + self.position_skip(temb)[:, None] * centred
        eps_feat = torch.einsum("bnji,bnj->bni", Dm, out[..., 3:]) + self.feature_skip(feats)
        return centre(eps_pos, mask), torch.where(m, eps_feat, 0.0)

    def _distance_basis(self, dist: torch.Tensor) -> torch.Tensor:
        """Gaussians of ``dist`` (any shape) centred every ``cutoff / (num_basis - 1)`` from 0 to ``cutoff``; (..., num_basis)."""
        width = self.config.cutoff / max(self.config.num_basis - 1, 1)
        return torch.exp(-(((dist[..., None] - self.centres) / width) ** 2))

    def _estimate_inputs(self, estimate, pos, R, Dm, idx, nb_mask, m) -> torch.Tensor:
        """Per-node inputs from an x0 estimate, in the node's (current) frame: its window offsets, its own features
        and a 1 flag; zeros and a 0 flag without one."""
        B, N, _ = pos.shape
        D = self.irreps_latent.dim
        if estimate is None:
            return pos.new_zeros(B, N, len(self.offsets) * 3 + D + 1)
        est_pos, est_feat = torch.where(m, estimate[0], 0.0), torch.where(m, estimate[1], 0.0)
        rel = torch.einsum("bnij,bnkj->bnki", R, est_pos[:, idx] - est_pos[:, :, None]) * nb_mask[..., None]
        own = torch.einsum("bnij,bnj->bni", Dm, est_feat)
        return torch.cat([rel.flatten(2), own, pos.new_ones(B, N, 1)], -1)


class PairBiasedAttention(nn.Module):
    """Pre-norm transformer block over the nodes of each sample: attention with a bias and a value term from the
    (invariant) pair features, then an MLP."""

    def __init__(self, width: int, heads: int, pair_dim: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be a multiple of heads {heads}")
        self.heads, self.head_dim = heads, width // heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.bias = nn.Linear(pair_dim, heads)
        self.pair_value = nn.Linear(pair_dim, width)
        self.out = nn.Linear(2 * width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))

    def forward(self, h: torch.Tensor, pair: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        B, N, W = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(B, N, 3, self.heads, self.head_dim).unbind(2)
        logits = torch.einsum("bihd,bjhd->bhij", q, k) / self.head_dim**0.5 + self.bias(pair).permute(0, 3, 1, 2)
        logits = logits.masked_fill(~keys[:, None], float("-inf"))
        attn = torch.nan_to_num(logits.softmax(-1))  # a sample's padding rows see no keys
        node = torch.einsum("bhij,bjhd->bihd", attn, v).reshape(B, N, W)
        pv = self.pair_value(pair).view(B, N, N, self.heads, self.head_dim)
        from_pairs = torch.einsum("bhij,bijhd->bihd", attn, pv).reshape(B, N, W)
        h = h + self.out(torch.cat([node, from_pairs], -1))
        return h + self.mlp(self.norm2(h))
