"""Relaxed equivariance: an interaction layer whose filters may learn to break symmetry.

Each :class:`RelaxedInteraction` owns a learnable irreps vector w (``RELAXED_IRREPS``), initialised
to the scalar 1 with every other component 0, and uses ``Y(r_ij) (x) w`` instead of the edge
spherical harmonics Y(r_ij). At initialisation it is exactly equivariant; training can grow the
non-scalar components of w when the data are less symmetric than the inputs, and these
components are the learned symmetry breaking (an order parameter): their stabiliser within the
input's point group is the symmetry the network settled on (Smidt et al., Phys. Rev. E 2021).
"""

from __future__ import annotations

import numpy as np
import torch
from e3nn import o3
from torch import nn

from gen3d.nn.interaction import InteractionBlock
from gen3d.nn.radial import RadialEmbedding
from gen3d.symmetry.classify import classify
from gen3d.symmetry.conditioned import complete_graph
from gen3d.symmetry.irreps import representation

RELAXED_IRREPS = "1x0e+1x0o+1x1o+1x1e+1x2e+1x2o"


class RelaxedInteraction(nn.Module):
    """An :class:`InteractionBlock` whose edge attributes are ``Y(r_ij) (x) w`` (w learnable, scalar at init)."""

    def __init__(self, irreps_in: str, irreps_out: str, irreps_sh: str, num_basis: int,
                 irreps_relaxed: str = RELAXED_IRREPS, avg_num_neighbors: float = 8.0) -> None:
        super().__init__()
        self.irreps_relaxed = o3.Irreps(irreps_relaxed)
        if self.irreps_relaxed[0].ir != o3.Irrep("0e"):
            raise ValueError("the relaxed irreps must start with a scalar 0e")
        weight = torch.zeros(self.irreps_relaxed.dim)
        weight[0] = 1.0
        self.weight = nn.Parameter(weight)
        irreps_sh = o3.Irreps(irreps_sh)
        keep = [ir for _, ir in o3.Irreps.spherical_harmonics(irreps_sh.lmax, p=-1) + o3.Irreps.spherical_harmonics(irreps_sh.lmax, p=1)]
        self.combine = o3.FullTensorProduct(irreps_sh, self.irreps_relaxed, filter_ir_out=keep)
        self.block = InteractionBlock(irreps_in, irreps_out, self.combine.irreps_out, num_basis,
                                      radial_hidden=32, avg_num_neighbors=avg_num_neighbors)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor) -> torch.Tensor:
        attrs = self.combine(edge_sh, self.weight.to(edge_sh.dtype).expand(len(edge_sh), -1))
        return self.block(x, edge_index, attrs, edge_radial)

    def components(self) -> dict[str, np.ndarray]:
        """The learned symmetry breaking: w's non-scalar components by irrep (e.g. ``{"2e": ...}``)."""
        w, out, start = self.weight.detach().double().numpy(), {}, 0
        for mul, ir in self.irreps_relaxed:
            for _ in range(mul):
                if ir != o3.Irrep("0e"):
                    out[str(ir)] = w[start:start + ir.dim].copy()
                start += ir.dim
        return out

    def breaking_vector(self) -> np.ndarray:
        """w with its scalar part removed (the symmetry-breaking order parameter)."""
        w = self.weight.detach().double().numpy().copy()
        w[0] = 0.0
        return w


def learned_symmetry(layer: RelaxedInteraction, ops: np.ndarray, tol: float = 1e-4) -> str:
    """Schoenflies symbol of the subgroup of ``ops`` leaving the layer's breaking vector unchanged (relative ``tol``)."""
    w = layer.breaking_vector()
    scale = max(float(np.linalg.norm(w)), 1e-12)
    d = representation(layer.irreps_relaxed, ops)
    keep = np.linalg.norm(d @ w - w, axis=-1) < tol * scale
    return classify(ops[keep])


class RelaxedNetwork(nn.Module):
    """Per-node displacement (1o) of a point cloud from one relaxed interaction layer over the complete graph."""

    def __init__(self, irreps_hidden: str = "4x0e+2x1o+2x2e", lmax: int = 2, cutoff: float = 8.0, num_basis: int = 8) -> None:
        super().__init__()
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.radial = RadialEmbedding(cutoff, num_basis)
        self.layer = RelaxedInteraction("1x0e", irreps_hidden, str(self.irreps_sh), num_basis)
        self.readout = o3.Linear(irreps_hidden, "1x1o")

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        """``pos`` ``(n, 3)`` -> displacements ``(n, 3)``."""
        edges = complete_graph(1, len(pos), pos.device)
        vec = pos[edges[1]] - pos[edges[0]]
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        x = self.layer(pos.new_ones(len(pos), 1), edges, sh, self.radial(vec.norm(dim=-1)))
        return self.readout(x)


def quadrupole(v: np.ndarray) -> np.ndarray:
    """The symmetric traceless 3x3 matrix of a 2e component (e3nn basis), e.g. to read off its axes."""
    w3j = o3.wigner_3j(1, 1, 2, dtype=torch.float64).numpy()
    return np.einsum("ijk,k->ij", w3j, np.asarray(v, dtype=float)) * np.sqrt(5.0)


def train_relaxed(start: np.ndarray, target: np.ndarray, steps: int = 80, lr: float = 2e-2, seed: int = 0) -> tuple[RelaxedNetwork, list[float]]:
    """Fit displacements ``target - start`` (float64); returns the network and its losses.

    The relaxed weights use SGD with momentum: Adam rescales each component separately, which is
    not equivariant in the irreps basis and drifts w off the symmetric subspace the gradient keeps.
    """
    torch.manual_seed(seed)
    net = RelaxedNetwork(cutoff=2.0 * float(np.linalg.norm(start, axis=1).max()) + 1.0).double()
    relaxed = [net.layer.weight]
    others = [p for p in net.parameters() if p is not net.layer.weight]
    optimisers = [torch.optim.Adam(others, lr=lr), torch.optim.SGD(relaxed, lr=5 * lr, momentum=0.9)]
    x, dx = torch.as_tensor(start, dtype=torch.float64), torch.as_tensor(target - start, dtype=torch.float64)
    losses = []
    for _ in range(steps):
        loss = (net(x) - dx).pow(2).sum(-1).mean()
        for opt in optimisers:
            opt.zero_grad()
        loss.backward()
        for opt in optimisers:
            opt.step()
        losses.append(float(loss.detach()))
    return net, losses
