"""NequIP-style interaction block: SH edge attributes, radial-weighted "uvu" tensor product, gate."""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet, Gate
from torch import nn

from gen3d.nn.scatter import scatter_sum


def _uvu_instructions(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_target: o3.Irreps
) -> tuple[o3.Irreps, list[tuple]]:
    """Depthwise (uvu) paths from ``in x sh`` to every irrep type present in the target."""
    wanted = {ir for _, ir in irreps_target}
    mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(irreps_in):
        for j, (_, ir_sh) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_sh:
                if ir_out in wanted:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    mid = o3.Irreps(mid)
    irreps_mid, perm, _ = mid.sort()
    instructions = [(a, b, perm[c], m, w) for a, b, c, m, w in instructions]
    return irreps_mid, instructions


def gate_for(irreps_hidden: o3.Irreps) -> Gate:
    """Gate producing ``irreps_hidden``: SiLU on scalars, sigmoid gates on l > 0 irreps."""
    scalars = o3.Irreps([(m, ir) for m, ir in irreps_hidden if ir.l == 0])
    gated = o3.Irreps([(m, ir) for m, ir in irreps_hidden if ir.l > 0])
    gates = o3.Irreps([(m, "0e") for m, _ in gated])
    acts = [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
    return Gate(scalars, acts, gates, [torch.sigmoid] * len(gates), gated)


class InteractionBlock(nn.Module):
    """One message-passing layer: h_i' = gate(W_self h_i + W_out sum_j TP(h_j, Y(r_ij); R(|r_ij|)))."""

    def __init__(
        self,
        irreps_in: o3.Irreps | str,
        irreps_out: o3.Irreps | str,
        irreps_sh: o3.Irreps | str,
        num_basis: int,
        radial_hidden: int = 64,
        avg_num_neighbors: float = 10.0,
    ) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        irreps_sh = o3.Irreps(irreps_sh)
        self.gate = gate_for(self.irreps_out)
        irreps_mid, instructions = _uvu_instructions(self.irreps_in, irreps_sh, self.gate.irreps_in)
        self.linear_in = o3.Linear(self.irreps_in, self.irreps_in)
        self.tp = o3.TensorProduct(
            self.irreps_in, irreps_sh, irreps_mid, instructions,
            shared_weights=False, internal_weights=False,
        )
        self.radial = FullyConnectedNet([num_basis, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu)
        self.linear_out = o3.Linear(irreps_mid, self.gate.irreps_in)
        self.self_connection = o3.Linear(self.irreps_in, self.gate.irreps_in)
        self.norm = avg_num_neighbors**-0.5
        self.residual = self.irreps_in == self.irreps_out

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor
    ) -> torch.Tensor:
        src, dst = edge_index
        messages = self.tp(self.linear_in(x)[src], edge_sh, self.radial(edge_radial))
        agg = scatter_sum(messages, dst, x.shape[0]) * self.norm
        out = self.gate(self.linear_out(agg) + self.self_connection(x))
        return x + out if self.residual else out
