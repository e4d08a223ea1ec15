"""Samplers for the symmetry-breaking toys: select an equivalent site, or flow to a distorted structure.

Both accept :class:`SymmetryBreaking` and draw b once per sample (trajectory) from its set; with
no condition b = 0 and the output keeps the input's symmetry. The input structure is the
condition's ``structure`` when given (e.g. a rotated copy), else the task's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from gen3d.samplers.base import Condition, Sampler, SymmetryBreaking, resolve_device
from gen3d.structures import Molecule
from gen3d.symmetry.conditioned import BreakingNetwork
from gen3d.symmetry.flow import FlowTask, integrate
from gen3d.symmetry.toys import SelectionTask, distort, logits


def _draws(condition: SymmetryBreaking | None, num: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """``(num, dim)`` elements b, one per sample (zeros without a condition)."""
    if condition is None:
        return torch.zeros(num, dim, dtype=torch.float64)
    return torch.as_tensor(np.stack([condition.draw(generator) for _ in range(num)]))


def _input(condition: SymmetryBreaking | None, positions: np.ndarray) -> torch.Tensor:
    structure = condition.structure if condition is not None and condition.structure is not None else None
    return torch.as_tensor(structure.positions if structure is not None else positions, dtype=torch.float64)


class SelectionSampler(Sampler):
    """Distort a symmetric structure towards the site a trained :func:`~gen3d.symmetry.toys.train_selector` net picks."""

    conditions = (SymmetryBreaking,)

    def __init__(self, net: BreakingNetwork, task: SelectionTask) -> None:
        self.net, self.task = net.eval(), task

    @torch.no_grad()
    def sample(self, num: int, *, seed: int = 0, batch_size: int = 64, device: str | torch.device = "cpu",
               condition: Condition | None = None) -> Iterator[Molecule]:
        self.check_condition(condition)
        resolve_device(device)
        generator = torch.Generator().manual_seed(seed)
        x = _input(condition, self.task.positions)
        for start in range(0, num, batch_size):
            b = _draws(condition, min(batch_size, num - start), self.task.bset.dim, generator)
            pos = x[None].expand(len(b), -1, -1)
            weights = logits(self.net, self.task, pos, b).softmax(-1)
            for k, moved in enumerate(distort(self.task, pos, weights)):
                mol = Molecule(self.task.numbers, moved.numpy(), name=f"gen3d-{self.task.name}-{start + k}")
                mol.properties["selected"] = int(weights[k].argmax())
                yield mol


class FlowSampler(Sampler):
    """Integrate a trained :func:`~gen3d.symmetry.flow.train_flow` velocity field from the symmetric start (Euler, deterministic given b)."""

    conditions = (SymmetryBreaking,)

    def __init__(self, net: BreakingNetwork, task: FlowTask, steps: int = 8) -> None:
        self.net, self.task, self.steps = net.eval(), task, steps

    def sample(self, num: int, *, seed: int = 0, batch_size: int = 64, device: str | torch.device = "cpu",
               condition: Condition | None = None) -> Iterator[Molecule]:
        self.check_condition(condition)
        resolve_device(device)
        generator = torch.Generator().manual_seed(seed)
        x = _input(condition, self.task.start)
        for start in range(0, num, batch_size):
            b = _draws(condition, min(batch_size, num - start), self.task.bset.dim, generator)
            ends = integrate(self.net, self.task.species, x[None].expand(len(b), -1, -1), b, self.steps)
            for k, end in enumerate(ends):
                yield Molecule(self.task.numbers, end.numpy(), name=f"gen3d-flow-{start + k}")
