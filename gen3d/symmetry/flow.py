"""A deterministic interpolant (flow) toy: an ODE from cubic BaTiO3 to one of its tetragonal variants.

The velocity field v(x_t, t, b) is a :class:`BreakingNetwork` with per-node 1o outputs, trained on
the linear interpolant x_t = (1 - t) x_0 + t x_1(b) to predict x_1(b) - x_0, and integrated with
fixed Euler steps. From the Oh-symmetric start an equivariant flow cannot leave Oh; with b drawn
from the breaking set the endpoints reach each tetragonal variant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen3d.symmetry.conditioned import BreakingNetwork
from gen3d.symmetry.sets import BreakingSet
from gen3d.symmetry.toys import SMALL, barium_titanate_task


@dataclass
class FlowTask:
    """Start structure, breaking set and the endpoint ``ends[k]`` of each set element."""

    numbers: np.ndarray
    start: np.ndarray
    bset: BreakingSet
    ends: np.ndarray
    species: torch.Tensor


def tetragonal(start: np.ndarray, axis: np.ndarray, ti: int = 0, shift: float = 0.3, stretch: float = 1.06) -> np.ndarray:
    """Cell stretched by ``stretch`` along ``axis`` with Ti shifted ``shift`` Å along it (a C4v structure)."""
    axis = axis / np.linalg.norm(axis)
    centre = start[ti]
    rel = start - centre
    out = centre + rel + (stretch - 1) * (rel @ axis)[:, None] * axis
    out[ti] += shift * axis
    return out


def barium_titanate_flow_task() -> FlowTask:
    """Each element of BaTiO3's C4v breaking set -> the tetragonal variant towards its paired O."""
    task = barium_titanate_task("C4v")
    ends = np.stack([tetragonal(task.positions, task.positions[t] - task.positions[0]) for t in task.targets])
    return FlowTask(task.numbers, task.positions, task.bset, ends, task.species)


def velocity_network(task: FlowTask, seed: int = 0) -> BreakingNetwork:
    """Per-node 1o velocity from (species, positions, time, b), float64."""
    torch.manual_seed(seed)
    return BreakingNetwork(task.bset.irreps, task.species.shape[1], "1x1o", num_scalars=1, irreps_hidden=SMALL,
                           num_layers=1, cutoff=12.0).double()


def train_flow(task: FlowTask, steps: int = 80, seed: int = 0, lr: float = 2e-2, times: int = 4) -> tuple[BreakingNetwork, list[float]]:
    """Regress v(x_t, t, b) on x_1(b) - x_0 at random t (``times`` per element and step)."""
    net = velocity_network(task, seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    x0, x1 = torch.as_tensor(task.start), torch.as_tensor(task.ends).repeat(times, 1, 1)
    b = torch.as_tensor(task.bset.elements).repeat(times, 1)
    losses = []
    for _ in range(steps):
        t = torch.rand(len(b), 1, generator=gen, dtype=torch.float64)
        xt = (1 - t[:, :, None]) * x0 + t[:, :, None] * x1
        loss = (net(task.species, xt, b, t) - (x1 - x0)).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return net.eval(), losses


@torch.no_grad()
def integrate(net: BreakingNetwork, species: torch.Tensor, start: torch.Tensor, b: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """Euler integration of dx/dt = v(x, t, b) from t = 0 to 1 for a batch ``start`` ``(B, n, 3)``."""
    x, dt = start.clone(), 1.0 / steps
    for k in range(steps):
        t = torch.full((len(x), 1), k * dt, dtype=x.dtype)
        x = x + dt * net(species, x, b, t)
    return x
