"""Toy symmetry-breaking tasks: from a symmetric structure, select one of its equivalent sites.

Triangular prism (D3h) -> one of its 6 vertices; cubic BaTiO3 (Oh) -> the O that Ti moves towards,
i.e. one of the 6 tetragonal (C4v) variants. The target of each set element b is the candidate
site that pairs best with b (:func:`pairing`, an O(3)-invariant score), so targets move with b:
target(D(g) b) = g target(b) for every symmetry g, and over the set they cover the whole orbit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from e3nn import o3

from gen3d.symmetry.conditioned import BreakingNetwork, soft_select
from gen3d.symmetry.detect import detect_point_group
from gen3d.symmetry.sets import BreakingSet, breaking_set_for
from gen3d.symmetry.shapes import barium_titanate, triangular_prism

SMALL = "8x0e+2x0o+2x1o+2x1e+2x2e"  # hidden irreps of the toy networks (one layer trains in about a second)


def pairing(directions: np.ndarray, b: np.ndarray, irreps: str) -> np.ndarray:
    """``(n,)`` invariant scores <Y_l(r), b_l> of each direction with the natural-parity parts of b."""
    r = torch.as_tensor(np.asarray(directions, dtype=float))
    score, start = torch.zeros(len(r), dtype=torch.float64), 0
    for mul, ir in o3.Irreps(irreps):
        for _ in range(mul):
            part = torch.as_tensor(np.asarray(b[start:start + ir.dim], dtype=float))
            if ir.p == (-1) ** ir.l:
                score += o3.spherical_harmonics(ir.l, r, normalize=True, normalization="component") @ part
            start += ir.dim
    return score.numpy()


@dataclass
class SelectionTask:
    """A symmetric structure, its breaking set, selectable sites and each element's target site.

    The selected site is expressed as a distortion: ``mover`` (an atom index) shifts by ``shift`` Å
    towards it, or, with no mover, the selected site itself moves ``shift`` Å away from the centre.
    """

    name: str
    numbers: np.ndarray
    positions: np.ndarray
    bset: BreakingSet
    candidates: np.ndarray
    targets: np.ndarray
    mover: int | None = None
    shift: float = 0.2

    @property
    def species(self) -> torch.Tensor:
        """One-hot ``(n, S)`` of the elements present."""
        kinds = sorted(set(self.numbers.tolist()))
        return torch.nn.functional.one_hot(torch.as_tensor([kinds.index(z) for z in self.numbers]), len(kinds)).double()


def make_task(name: str, numbers, positions, target: str = "C1", candidates=None, mover=None, shift=0.2) -> SelectionTask:
    """Detect the symmetry, build the breaking set, and label every element with its best-paired site."""
    numbers, positions = np.asarray(numbers), np.asarray(positions, dtype=float)
    bset = breaking_set_for(detect_point_group(positions, numbers), target)
    mask = np.ones(len(numbers), bool) if candidates is None else np.asarray(candidates)
    centre = positions.mean(0)
    scores = np.stack([pairing(positions - centre, b, bset.irreps) for b in bset.elements])
    targets = np.where(mask[None], scores, -np.inf).argmax(1)
    return SelectionTask(name, numbers, positions, bset, mask, targets, mover, shift)


def prism_task() -> SelectionTask:
    """Triangular prism (D3h) -> one vertex, with its full (C1) breaking set of 12 vectors."""
    return make_task("prism", *triangular_prism())


def barium_titanate_task(target: str = "C4v") -> SelectionTask:
    """Cubic BaTiO3 (Oh) -> Ti shifted towards one O: partial breaking to C4v (6 vectors) by default."""
    numbers, positions = barium_titanate()
    return make_task("BaTiO3", numbers, positions, target, candidates=numbers == 8, mover=0, shift=0.1)


def logits(net: BreakingNetwork, task: SelectionTask, pos: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(B, n)`` selection logits (non-candidates masked to -inf)."""
    out = net(task.species, pos, b)[..., 0]
    return out.masked_fill(~torch.as_tensor(task.candidates), float("-inf"))


def selector(task: SelectionTask, seed: int = 0) -> BreakingNetwork:
    """A float64 network for ``task`` (per-node 0e logit + 1o vector)."""
    torch.manual_seed(seed)
    span = float(np.linalg.norm(task.positions[:, None] - task.positions[None], axis=-1).max())
    net = BreakingNetwork(task.bset.irreps, task.species.shape[1], "1x0e+1x1o", irreps_hidden=SMALL, num_layers=1, cutoff=1.5 * span)
    return net.double()


def train_selector(task: SelectionTask, steps: int = 60, seed: int = 0, lr: float = 2e-2) -> tuple[BreakingNetwork, list[float]]:
    """Fit the logits to every (b, target) pair of the set with cross-entropy; returns the net and its losses."""
    net = selector(task, seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    b = torch.as_tensor(task.bset.elements)
    pos = torch.as_tensor(task.positions)[None].expand(len(b), -1, -1)
    target = torch.as_tensor(task.targets)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(logits(net, task, pos, b), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return net.eval(), losses


def distort(task: SelectionTask, pos: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Apply the task's distortion for soft selection ``weights`` ``(B, n)`` (uniform weights keep the symmetry)."""
    if task.mover is None:
        out = pos - pos.mean(1, keepdim=True)
        return pos + task.shift * weights[..., None] * torch.nn.functional.normalize(out, dim=-1)
    rel = pos - pos[:, task.mover:task.mover + 1]
    unit = rel / rel.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    moved = pos.clone()
    moved[:, task.mover] += task.shift * (weights[..., None] * unit).sum(1)
    return moved


def selected_position(net: BreakingNetwork, task: SelectionTask, pos: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """f(x, b): the softly selected site ``(B, 3)`` (equivariant in x and b together)."""
    return soft_select(logits(net, task, pos, b), pos)
