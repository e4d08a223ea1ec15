"""The local-frame EquiJump network: invariant message passing with every vector read in a residue frame.

Each residue's N, Cα and C in the current frame x0 fix an orthonormal frame (Gram-Schmidt on
C - Cα and N - Cα). Every vector an atom sees (its own position and displacement, its neighbours'
offsets in x0 and in the interpolated frame xs) is expressed in its residue's frame, so all
features are invariant; the two output vectors (endpoint offset and denoiser) are predicted in that
frame and rotated back. Since the frames rotate with the system, the network is exactly
SO(3)-equivariant (proper frames: a mirror image is a different input), translations cancel, and
one set of weights serves every atom, so local geometry is learned from every atom of every frame
(the canonical-frame MLP sees a whole molecule as one example). Caps without N, Cα, C (ACE, NME)
borrow their neighbouring residue's frame.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from gen3d.models.equijump.config import EquiJumpConfig
from gen3d.models.equijump.network import gaussian_basis, time_features
from gen3d.nn.graph import radius_graph
from gen3d.nn.scatter import scatter_sum

BACKBONE = ("N", "CA", "C")
LENGTH_SCALE = 0.2  # 1/Å: local coordinates enter the MLPs at about unit size
# Columns of the edge input [r0 (3), rs (3), len0, lens, lens - len0, distance basis and separation class]:
# those of the current frame alone are applied once per jump (LocalContext.edge_fixed), the rest every step.
VARYING_COLUMNS = (3, 4, 5, 7, 8)
EDGE_CHUNK = 4096  # edges per message block: (4096, H) float buffers that stay in cache and get reused


class LocalContext(NamedTuple):
    """What one jump shares: neighbour pairs, residue frames and every feature of the current frame alone."""

    edges: torch.Tensor  # (2, E) src, dst
    rot: torch.Tensor  # (n, 3, 3) world -> residue frame, per row
    origin: torch.Tensor  # (n, 3) the row's residue Cα
    edge_rot: torch.Tensor  # (E, 3, 3) the receiving atom's frame
    p0: torch.Tensor  # (n, 3) scaled position in the residue frame
    r0: torch.Tensor  # (E, 3) scaled current-frame offset in the receiver's frame
    len0: torch.Tensor  # (E, 1)
    edge_fixed: tuple[torch.Tensor, ...]  # per layer (E, H): the edge input layer applied to the x0-only edge features, bias included
    count: torch.Tensor  # (n, 1) in-degree
    degree: torch.Tensor  # (n, 1) sqrt of the in-degree, the message normaliser


def _apply(rot: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate row vectors into their frames and scale them to about unit size."""
    return torch.einsum("nij,nj->ni", rot, v) * LENGTH_SCALE


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with SiLU between them."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers[:-1])


def residue_frames(x: torch.Tensor, role: torch.Tensor, key: torch.Tensor, width: int, num_keys: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row (world -> frame rotation (n, 3, 3), Cα origin (n, 3)) of each row's residue.

    ``key`` = system * width + residue ordinal. A residue without N, CA and C (a cap such as ACE or
    NME) borrows the frame of the next residue of its system, else of the previous one.
    """
    slots = x.new_zeros(num_keys, 3, 3)
    seen = torch.zeros(num_keys, 3, dtype=torch.long, device=x.device)
    has = role >= 0
    slots[key[has], role[has]] = x[has]
    seen[key[has], role[has]] = 1
    full = seen.sum(-1) == 3
    ordinal = torch.arange(num_keys, device=x.device)
    nxt = torch.where((ordinal % width < width - 1) & full.roll(-1), ordinal + 1, -1)
    prv = torch.where((ordinal % width > 0) & full.roll(1), ordinal - 1, -1)
    source = torch.where(full, ordinal, torch.where(nxt >= 0, nxt, prv))
    if bool((source[key] < 0).any()):
        raise ValueError("the local backbone needs N, CA and C in every residue or in a neighbour of a residue without them")
    key = source[key]
    n_, ca, c = slots[key].unbind(1)
    e1 = nn.functional.normalize(c - ca, dim=-1)
    u = n_ - ca
    e2 = nn.functional.normalize(u - (u * e1).sum(-1, keepdim=True) * e1, dim=-1)
    return torch.stack([e1, e2, torch.cross(e1, e2, dim=-1)], dim=1), ca


class LocalFrameJumpNet(nn.Module):
    """(tokens, residue index, x0, xs, s) -> (x1 - xs or b, eta), SO(3)-equivariant through residue frames."""

    def __init__(self, config: EquiJumpConfig) -> None:
        super().__init__()
        self.config = config
        H, cfg = config.local_hidden, config
        names = [t.split(":", 1)[-1] for t in config.vocabulary]
        self.register_buffer("role", torch.tensor([BACKBONE.index(a) if a in BACKBONE else -1 for a in names] or [-1]), persistent=False)
        self.num_classes = 2 * cfg.max_separation + 1
        self.token = nn.Embedding(max(len(config.vocabulary), 1), H)
        self.node_in = mlp([H + 2 * cfg.time_frequencies + 9, H, H])
        edge_dim = 6 + 3 + cfg.num_basis + self.num_classes
        fixed_columns = [i for i in range(edge_dim) if i not in VARYING_COLUMNS]
        self.register_buffer("fixed_columns", torch.tensor(fixed_columns), persistent=False)
        self.register_buffer("varying_columns", torch.tensor(VARYING_COLUMNS), persistent=False)
        self.edge_in = nn.ModuleList(nn.Linear(edge_dim, H) for _ in range(cfg.local_layers))
        self.send = nn.ModuleList(nn.Linear(H, H, bias=False) for _ in range(cfg.local_layers))
        self.receive = nn.ModuleList(nn.Linear(H, H, bias=False) for _ in range(cfg.local_layers))
        self.message = nn.ModuleList(nn.Linear(H, H) for _ in range(cfg.local_layers))
        self.update = nn.ModuleList(mlp([2 * H, H, H]) for _ in range(cfg.local_layers))
        self.norm = nn.ModuleList(nn.LayerNorm(H) for _ in range(cfg.local_layers))
        self.head = mlp([H, H, 6])

    def context(self, x0: torch.Tensor, batch: torch.Tensor, tokens: torch.Tensor, residue_index: torch.Tensor) -> LocalContext:
        """Everything that depends on the current frame only (pairs, frames, x0 features), computed once per jump."""
        cfg = self.config
        src, dst = edges = radius_graph(x0, batch, cfg.local_cutoff)
        width = int(residue_index.max()) + 1
        key = batch * width + residue_index
        rot, origin = residue_frames(x0, self.role[tokens], key, width, (int(batch.max()) + 1) * width)
        edge_rot = rot[dst]
        r0 = _apply(edge_rot, x0[src] - x0[dst])
        len0 = r0.norm(dim=-1, keepdim=True)
        sep = (residue_index[src] - residue_index[dst]).clamp(-cfg.max_separation, cfg.max_separation) + cfg.max_separation
        fixed = torch.cat([r0, len0, gaussian_basis(len0[:, 0] / LENGTH_SCALE, cfg.local_cutoff, cfg.num_basis),
                           nn.functional.one_hot(sep, self.num_classes).to(x0.dtype)], -1)
        edge_fixed = tuple(nn.functional.linear(fixed, layer.weight[:, self.fixed_columns], layer.bias) for layer in self.edge_in)
        count = scatter_sum(torch.ones_like(len0), dst, len(x0))
        return LocalContext(edges, rot, origin, edge_rot, _apply(rot, x0 - origin), r0, len0, edge_fixed, count, count.clamp_min(1.0).sqrt())

    def _summed_activations(self, k: int, h: torch.Tensor, varying: torch.Tensor, c: LocalContext) -> torch.Tensor:
        """Per receiving atom, the sum over its edges of silu(edge input + sender + receiver) of layer k.

        On a CPU, edges go in chunks of EDGE_CHUNK so the (chunk, H) buffers stay in cache and the allocator
        reuses them (one (E, H) buffer per call costs fresh pages every step: about a third of a rollout's time).
        """
        src, dst = c.edges
        sender, receiver = self.send[k](h), self.receive[k](h)
        weight = self.edge_in[k].weight[:, self.varying_columns].t()
        inplace = not torch.is_grad_enabled()  # autograd needs silu's input
        summed = h.new_zeros(h.shape)
        chunk = EDGE_CHUNK if h.device.type == "cpu" else max(src.numel(), 1)  # a GPU takes all edges at once
        for lo in range(0, src.numel(), chunk):
            part = slice(lo, lo + chunk)
            z = torch.addmm(c.edge_fixed[k][part], varying[part], weight)
            z += sender.index_select(0, src[part])
            z += receiver.index_select(0, dst[part])
            summed.index_add_(0, dst[part], nn.functional.silu(z, inplace=inplace))
        return summed

    def forward(
        self, tokens: torch.Tensor, residue_index: torch.Tensor, x0: torch.Tensor, xs: torch.Tensor, s: torch.Tensor,
        batch: torch.Tensor, context: LocalContext | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``s``: one time per system (B,); returns (x1 - xs or b) and eta, each (n, 3)."""
        cfg = self.config
        c = self.context(x0, batch, tokens, residue_index) if context is None else context
        src, dst = c.edges
        ps = _apply(c.rot, xs - c.origin)
        h = self.node_in(torch.cat([self.token(tokens), time_features(s, cfg.time_frequencies)[batch], c.p0, ps, ps - c.p0], -1))
        rs = _apply(c.edge_rot, xs[src] - xs[dst])
        lens = rs.norm(dim=-1, keepdim=True)
        varying = torch.cat([rs, lens, (lens - c.len0) / LENGTH_SCALE], -1)
        for k in range(cfg.local_layers):
            # the message layer is linear, so it acts on the per-atom sums: (n, H) instead of (E, H) rows
            m = nn.functional.linear(self._summed_activations(k, h, varying, c), self.message[k].weight) + c.count * self.message[k].bias
            h = h + self.update[k](torch.cat([self.norm[k](h), m / c.degree], -1))
        out = self.head(h).view(-1, 2, 3) * torch.tensor([1 / LENGTH_SCALE, 1.0], dtype=h.dtype, device=h.device)[:, None]
        out = torch.einsum("nji,nkj->nki", c.rot, out)  # frame -> world: R^T v
        return out[:, 0], out[:, 1]
