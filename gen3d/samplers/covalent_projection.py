"""SHAKE-style projection of proposed frames onto the start frame's covalent geometry.

Heavy-atom bond lengths and bond angles hardly move in MD (a few hundredths of an Å), but a
learned jump places every atom with some error, and a rollout that feeds those errors back in
drifts off the molecule's geometry. After each jump this projection restores every bonded (1-2)
distance and every distance across a bond angle (1-3) to its value in the start frame, leaving
torsions, and so the conformational change the model proposed, free: the holonomic constraints of
SHAKE applied to the jump's endpoint. It is a sampler option (stated in a card's ``sampling``), and
reports also give the model's raw rollouts without it.

Which lengths: a crystal or NMR start has bonds about 1 % shorter than their thermal means in the
force field that made the training data, and restoring those shrinks every frame (a chignolin
rollout lost 0.05 Å of radius of gyration per jump). Cards therefore carry the mean 1-2 and 1-3
distances over the training frames (``mean_covalent_geometry``), and the sampler restores those;
the start frame's own lengths serve only checkpoints without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen3d.metrics.dynamics_observables import bonded_pairs


def constraint_pairs(start: np.ndarray) -> np.ndarray:
    """(m, 2) atom pairs joined by a bond (1-2) or by two bonds (1-3) in ``start`` (n, 3)."""
    bonds = bonded_pairs(start)
    n = len(start)
    adjacent = np.zeros((n, n), dtype=np.int64)
    adjacent[bonds[:, 0], bonds[:, 1]] = adjacent[bonds[:, 1], bonds[:, 0]] = 1
    two = (adjacent @ adjacent > 0) & (adjacent == 0)
    np.fill_diagonal(two, False)
    i, j = np.nonzero(np.triu(two, 1))
    return np.concatenate([bonds, np.stack([i, j], axis=1)]).astype(np.int64)


def mean_covalent_geometry(trajectories: list[np.ndarray], reference: np.ndarray | None = None) -> dict:
    """Constrained pairs (found in ``reference``, default the first frame) and their mean length over all frames, Å."""
    reference = trajectories[0][0] if reference is None else reference
    pairs = constraint_pairs(reference)
    total = sum(np.linalg.norm(t[:, pairs[:, 0]] - t[:, pairs[:, 1]], axis=-1).sum(0) for t in trajectories)
    lengths = total / sum(len(t) for t in trajectories)
    return {"pairs": pairs.tolist(), "lengths": [round(float(v), 4) for v in lengths]}


@dataclass
class CovalentProjection:
    """Damped Gauss-Newton projection (x <- x - J^T (J J^T + lambda I)^-1 c) onto the constrained distances.

    Each step is the smallest move that zeroes the linearised constraint errors c, so the model's
    proposal changes as little as the geometry allows; steps repeat until every distance is within
    ``tolerance`` (in practice 3 to 10 steps). Dense per walker: m constraints cost an (m, m) solve.
    """

    pairs: torch.Tensor  # (m, 2)
    lengths: torch.Tensor  # (m,) Å
    iterations: int = 12
    tolerance: float = 1e-3  # Å
    damping: float = 1e-3  # keeps J J^T invertible when constraints are redundant (planar rings)

    @classmethod
    def for_start(cls, start: np.ndarray) -> "CovalentProjection":
        pairs = constraint_pairs(start)
        lengths = np.linalg.norm(start[pairs[:, 0]] - start[pairs[:, 1]], axis=-1)
        return cls(torch.as_tensor(pairs), torch.as_tensor(lengths, dtype=torch.float64))

    @classmethod
    def for_geometry(cls, geometry: dict) -> "CovalentProjection":
        """From ``mean_covalent_geometry``'s dict (as a card stores it)."""
        pairs = torch.as_tensor(np.asarray(geometry["pairs"], dtype=np.int64).reshape(-1, 2))
        return cls(pairs, torch.as_tensor(geometry["lengths"], dtype=torch.float64))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Frames (W, n, 3) with their constrained distances restored (float64 inside), each keeping its centroid."""
        W, n, _ = x.shape
        i, j = self.pairs[:, 0].to(x.device), self.pairs[:, 1].to(x.device)
        m, rows = len(i), torch.arange(len(i), device=x.device)
        y = x.double()
        target = self.lengths.to(x.device)
        eye = self.damping * torch.eye(m, dtype=y.dtype, device=x.device)
        for _ in range(self.iterations):
            diff = y[:, i] - y[:, j]
            r = diff.norm(dim=-1)
            error = r - target
            if float(error.abs().max()) < self.tolerance:
                break
            unit = diff / r.clamp_min(1e-6)[..., None]
            jac = y.new_zeros(W, m, n, 3)
            jac[:, rows, i], jac[:, rows, j] = unit, -unit
            jac = jac.view(W, m, 3 * n)
            step = torch.linalg.solve(jac @ jac.transpose(1, 2) + eye, error[..., None])
            y = y - (jac.transpose(1, 2) @ step).view(W, n, 3)
        return (y - y.mean(1, keepdim=True) + x.double().mean(1, keepdim=True)).to(x.dtype)
