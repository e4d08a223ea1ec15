"""The Symphony network: equivariant embedding, (focus, element, STOP) head, position head.

Position head: the new atom sits at ``focus + r u``. Its density is a mixture of K components,
each a product of a radial distribution (piecewise-linear log-density on a grid of radii) and
an angular distribution whose log-density is a spherical-harmonic signal
``g_k(u) = sum_lm c_klm Y_lm(u)`` (l <= position_lmax). The coefficients are E(3)-equivariant:
a sum over the fragment's atoms ``j`` of invariant weights times ``Y_l(r_fj)`` (reaching l = 5
cheaply) plus an element-conditioned linear map of the focus features for l <= 2. Each factor
is normalised on its own grid, which keeps a fine sphere grid affordable on a CPU.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import nn

from gen3d.data.fragments import FragmentBatch
from gen3d.models.symphony.config import SymphonyConfig
from gen3d.models.symphony.loss import symphony_loss
from gen3d.models.symphony.sphere import fibonacci_sphere, sh
from gen3d.nn import EquivariantEmbedding, RadialEmbedding
from gen3d.nn.scatter import scatter_max, scatter_mean, scatter_sum


def mlp(sizes: list[int]) -> nn.Sequential:
    """Plain SiLU MLP on invariant features."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers[:-1])


class PositionDistribution:
    """Parameters of the position mixture for a batch of focus atoms (all log-space, un-tempered)."""

    def __init__(self, mix: torch.Tensor, radial: torch.Tensor, angular: torch.Tensor) -> None:
        self.mix = mix  # (B, K) mixture logits
        self.radial = radial  # (B, K, R) log-density at the grid radii (unnormalised)
        self.angular = angular  # (B, K, (L+1)^2) SH coefficients of the angular log-density

    def __getitem__(self, rows) -> "PositionDistribution":
        return PositionDistribution(self.mix[rows], self.radial[rows], self.angular[rows])


class Symphony(nn.Module):
    """Autoregressive molecule model; see the module docstring for the position head."""

    def __init__(self, config: SymphonyConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or SymphonyConfig()
        self.num_elements = len(c.elements)
        self.embedding = EquivariantEmbedding(
            self.num_elements, c.irreps_hidden, c.num_layers, c.lmax_sh, c.cutoff,
            c.num_basis, c.radial_hidden, c.avg_num_neighbors,
        )
        hidden = self.embedding.irreps_hidden
        self.num_scalars = s = hidden.count("0e")
        E, H, R, L, K = self.num_elements, c.head_hidden, c.num_radii, c.position_lmax, c.num_components
        self.focus_head = mlp([s, H, E])
        self.stop_head = mlp([2 * s, H, 1])
        self.pair_radial = RadialEmbedding(c.cutoff, c.num_basis)
        self.pair_mlp = mlp([2 * s + E + c.num_basis, H, H, K * (L + 1)])
        self.pair_context = mlp([2 * s + E + c.num_basis, H, H])
        self.radial_head = mlp([s + E + H, H, K * (R + 1)])
        self.low_irreps = o3.Irreps([(K, ir) for _, ir in hidden if ir in (o3.Irrep("0e"), o3.Irrep("1o"), o3.Irrep("2e"))])
        self.focus_tp = o3.FullyConnectedTensorProduct(hidden, f"{E}x0e", self.low_irreps)
        # Grids are derived from the config, so they are not stored in checkpoints.
        self.register_buffer("radii", torch.linspace(c.min_radius, c.max_radius, R), persistent=False)
        grid = fibonacci_sphere(c.sphere_points)
        self.register_buffer("grid", grid, persistent=False)
        self.register_buffer("grid_sh", sh(L, grid), persistent=False)
        self.register_buffer("l_index", torch.cat([torch.full((2 * l + 1,), l) for l in range(L + 1)]), persistent=False)
        trapezoid = torch.ones(R)
        trapezoid[[0, -1]] = 0.5
        dr = (c.max_radius - c.min_radius) / (R - 1)
        self.register_buffer("log_radial_cell", torch.log(self.radii**2 * dr * trapezoid), persistent=False)
        self.log_sphere_cell = math.log(4 * math.pi / c.sphere_points)
        self.register_buffer("first_element_logits", torch.zeros(E))

    def forward(self, batch: "FragmentBatch") -> dict[str, torch.Tensor]:
        """Teacher-forcing losses of a fragment batch (so DDP wraps the whole step)."""
        return symphony_loss(self, batch)

    # ----------------------------------------------------------------- features and heads
    def features(self, species: torch.Tensor, positions: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """Equivariant node features of a batch of fragments."""
        return self.embedding(species, positions, batch)

    def focus_log_probs(
        self, x: torch.Tensor, batch: torch.Tensor, num_graphs: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised log-probabilities of (focus node, element) ``(n, E)`` and of STOP ``(B,)``."""
        scalars = x[:, : self.num_scalars]
        node = self.focus_head(scalars)
        pooled = torch.cat([scatter_mean(scalars, batch, num_graphs), _scatter_max_rows(scalars, batch, num_graphs)], -1)
        stop = self.stop_head(pooled).squeeze(-1)
        top = torch.maximum(scatter_max(node.max(-1).values, batch, num_graphs), stop).detach()
        total = scatter_sum((node - top[batch, None]).exp().sum(-1), batch, num_graphs) + (stop - top).exp()
        log_z = top + total.log()
        return node - log_z[batch, None], stop - log_z

    def position_distribution(
        self, x: torch.Tensor, positions: torch.Tensor, batch: torch.Tensor, focus: torch.Tensor, element: torch.Tensor
    ) -> PositionDistribution:
        """Position mixture of the new atom of element index ``element`` around atom ``focus``."""
        c, s = self.config, self.num_scalars
        B, K, R = len(focus), c.num_components, c.num_radii
        onehot = nn.functional.one_hot(element, self.num_elements).to(x.dtype)
        fx = x[focus]
        j = (torch.arange(len(batch), device=x.device) != focus[batch]).nonzero(as_tuple=True)[0]
        g = batch[j]
        rel = positions[j] - positions[focus[g]]
        dist = rel.norm(dim=-1)
        envelope = self.pair_radial.envelope(dist)[:, None]
        inputs = torch.cat([fx[g, :s], x[j, :s], onehot[g], self.pair_radial(dist)], dim=-1)
        weights = (self.pair_mlp(inputs) * envelope).view(len(j), K, c.position_lmax + 1)
        angular = scatter_sum(weights[:, :, self.l_index] * sh(c.position_lmax, rel)[:, None, :], g, B)
        local = self.focus_tp(fx, onehot)
        low = torch.cat([local[:, sl].view(B, K, ir.dim) for sl, (_, ir) in zip(self.low_irreps.slices(), self.low_irreps)], -1)
        angular = angular + nn.functional.pad(low, (0, angular.shape[-1] - low.shape[-1]))
        context = scatter_sum(self.pair_context(inputs) * envelope, g, B)
        radial = self.radial_head(torch.cat([fx[:, :s], onehot, context], -1)).view(B, K, R + 1)
        return PositionDistribution(radial[:, :, 0], radial[:, :, 1:], angular)

    # ----------------------------------------------------------------- densities
    def log_density(self, dist: PositionDistribution, rel: torch.Tensor) -> torch.Tensor:
        """Log-density (Å^-3) of offsets ``rel`` ``(B, T, 3)`` from the focus: ``(B, T)``."""
        c = self.config
        log_zr = (dist.radial + self.log_radial_cell).logsumexp(-1)  # (B, K)
        log_zu = (dist.angular @ self.grid_sh.T).logsumexp(-1) + self.log_sphere_cell  # (B, K)
        r = rel.norm(dim=-1).clamp(c.min_radius, c.max_radius)
        t = (r - c.min_radius) / (c.max_radius - c.min_radius) * (c.num_radii - 1)
        k = t.floor().long().clamp(max=c.num_radii - 2)
        a = (t - k)[:, None, :]  # (B, 1, T)
        idx = k[:, None, :].expand(-1, c.num_components, -1)
        f_r = (1 - a) * dist.radial.gather(-1, idx) + a * dist.radial.gather(-1, idx + 1)  # (B, K, T)
        f_u = dist.angular @ sh(c.position_lmax, rel).transpose(1, 2)  # (B, K, T)
        mix = dist.mix.log_softmax(-1)[:, :, None]
        return (mix + f_r - log_zr[:, :, None] + f_u - log_zu[:, :, None]).logsumexp(1)


def _scatter_max_rows(x: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Column-wise max of ``x`` per segment."""
    out = x.new_full((size, x.shape[1]), float("-inf"))
    return out.scatter_reduce(0, index[:, None].expand_as(x), x, reduce="amax", include_self=True)
