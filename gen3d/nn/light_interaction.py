"""A light equivariant interaction block: the few tensor-product paths a coordinate autoencoder needs,
written as per-channel products instead of a general e3nn tensor product (several times faster on CPU).

For hidden irreps ``S x 0e + V x 1o + T x 2e`` and edge direction u (l=1) and Y2(u) (l=2):
    scalars  <- w1 * a_j + w2 * (e_j . u)
    vectors  <- w3 * d_j + w4 * b_j u
    l=2      <- w5 * f_j + w6 * c_j Y2(u)
where a..f are linear maps of the sender's features and w1..w6 come from an MLP of the edge's
invariants. Each is an e3nn "uvu" path (0x0->0, 1x1->0, 1x0->1, 0x1->1, 2x0->2, 0x2->2).
With ``cross=True`` vectors also receive w7 * (d_j x u): a pseudovector stored with the vectors,
so later dot products form triple products. The block is then equivariant to rotations but not to
reflections, which lets a network tell mirror images (an L from a D centre, a dihedral's sign) apart.
With ``node_scalars`` > 0 the weights w1..w7 come from an MLP of the edge invariants and that many
learned scalars of both the sender and the receiver (as in EGNN's message function), so a message
depends on both atoms' states, not on the geometry of the edge alone.
"""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet
from torch import nn

from gen3d.nn.interaction import gate_for
from gen3d.nn.scatter import scatter_sum


def channel_counts(irreps: o3.Irreps) -> tuple[int, int, int]:
    """(S, V, T) of irreps exactly of the form ``S x 0e + V x 1o + T x 2e``."""
    irreps = o3.Irreps(irreps).simplify()
    counts = {str(ir): mul for mul, ir in irreps}
    if set(counts) - {"0e", "1o", "2e"} or str(irreps) != str(o3.Irreps(irreps).sort().irreps.simplify()):
        raise ValueError(f"light interaction needs 'S x 0e + V x 1o + T x 2e' irreps, got {irreps}")
    return counts.get("0e", 0), counts.get("1o", 0), counts.get("2e", 0)


class LightInteractionBlock(nn.Module):
    """h_i' = gate(W_self h_i + W_out sum_j message(h_j, u_ij, |r_ij|)) (+ h_i when shapes agree)."""

    def __init__(
        self, irreps: str | o3.Irreps, num_edge_features: int, radial_hidden: int = 32, avg_num_neighbors: float = 10.0,
        cross: bool = False, node_scalars: int = 0,
    ) -> None:
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        S, V, T = self.counts = channel_counts(self.irreps)
        self.cross, self.node_scalars = cross, node_scalars
        source = o3.Irreps(f"{S + V + T + 2 * node_scalars}x0e + {V + S}x1o + {T}x2e")
        self.linear_in = o3.Linear(self.irreps, source)
        inputs = num_edge_features + 2 * node_scalars
        self.radial = FullyConnectedNet([inputs, radial_hidden, 2 * (S + V + T) + cross * V], torch.nn.functional.silu)
        self.gate = gate_for(self.irreps)
        self.linear_out = o3.Linear(self.irreps, self.gate.irreps_in)
        self.self_connection = o3.Linear(self.irreps, self.gate.irreps_in)
        self.norm = avg_num_neighbors**-0.5

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_sh: torch.Tensor, edge_features: torch.Tensor) -> torch.Tensor:
        """``edge_sh``: e3nn spherical harmonics l = 0..2 of the edge vectors (9 columns, component norm)."""
        S, V, T = self.counts
        src, dst = edge_index
        k = self.node_scalars
        hn = self.linear_in(x)
        h = hn[src]
        if k:
            # layer-normed: the weights then multiply sender features, so unbounded inputs would compound per layer
            ends = torch.cat([h[:, :k], hn[dst, k : 2 * k]], dim=-1).view(-1, 2, k)
            edge_features = torch.cat([edge_features, nn.functional.layer_norm(ends, (k,)).flatten(1)], dim=-1)
        w = self.radial(edge_features)
        u, y2 = edge_sh[:, 1:4], edge_sh[:, 4:9]
        # torch.split, not slicing: the backward of a slice zero-fills a full-width gradient per slice
        a, b, c, d, e, f = torch.split(h[:, 2 * k :], [S, V, T, 3 * V, 3 * S, 5 * T], dim=-1)
        d, e, f = d.reshape(-1, V, 3), e.reshape(-1, S, 3), f.reshape(-1, T, 5)
        w1, w2, w3, w4, w5, w6, w7 = torch.split(w, [S, S, V, V, T, T, self.cross * V], dim=-1)
        m_s = w1 * a + w2 * (e * u[:, None]).sum(-1)
        m_v = w3[..., None] * d + (w4 * b)[..., None] * u[:, None]
        if self.cross:
            m_v = m_v + w7[..., None] * torch.linalg.cross(d, u[:, None].expand_as(d))
        m_t = w5[..., None] * f + (w6 * c)[..., None] * y2[:, None]
        messages = torch.cat([m_s, m_v.flatten(1), m_t.flatten(1)], -1)
        agg = scatter_sum(messages, dst, x.shape[0]) * self.norm
        return x + self.gate(self.linear_out(agg) + self.self_connection(x))
