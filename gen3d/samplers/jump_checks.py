"""Proposal checks for EquiJump rollouts: a jump may not invert a stereocentre or break a bond.

MD never changes a Cα's handedness and never stretches a covalent bond past 2 Å, but a learned
jump occasionally proposes either. A rollout redraws the jumps that fail (fresh noise, same start
frame) and, after ``retries`` failures, keeps the walker where it was, like a rejected Monte Carlo
move. The rates are counted so that every report can state how often this happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gen3d.metrics.dynamics_observables import PHYSICAL_BOND, bonded_pairs

STORAGE_MARGIN = 0.02  # Å: XTC keeps 0.01 Å per coordinate, so a bond accepted closer to a limit may cross it once written


def stereocentres(topology: list) -> np.ndarray:
    """(k, 4) atom indices N, CA, C, CB of every residue that has all four (card topology rows)."""
    where = {(int(row[0]), row[2]): i for i, row in enumerate(topology)}
    rows = [[where.get((r, a)) for a in ("N", "CA", "C", "CB")] for r in sorted({int(row[0]) for row in topology})]
    return np.array([row for row in rows if None not in row], dtype=np.int64).reshape(-1, 4)


def handedness(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(W, k) sign of (N - CA) . ((C - CA) x (CB - CA)) for frames x (W, n, 3)."""
    n, ca, c, cb = (x[:, centres[:, k]] for k in range(4))
    return torch.sign(((n - ca) * torch.linalg.cross(c - ca, cb - ca)).sum(-1))


@dataclass
class JumpStats:
    """Counts over a rollout: proposals drawn, proposals rejected, walker-jumps that stayed put."""

    proposals: int = 0
    rejected: int = 0
    stayed: int = 0
    inverted: int = 0
    broken: int = 0

    def as_dict(self, walker_jumps: int) -> dict:
        return {
            "proposals": self.proposals, "rejected_proposals": self.rejected,
            "rejected_fraction": self.rejected / max(self.proposals, 1),
            "rejected_inverted_stereocentre": self.inverted, "rejected_broken_bond": self.broken,
            "stayed_walker_jumps": self.stayed, "stayed_fraction": self.stayed / max(walker_jumps, 1),
        }


@dataclass
class JumpChecks:
    """Tests a batch of proposed frames against their previous frames."""

    centres: torch.Tensor  # (k, 4)
    bonds: torch.Tensor  # (m, 2)
    stats: JumpStats = field(default_factory=JumpStats)

    @classmethod
    def for_start(cls, start: np.ndarray, topology: list) -> "JumpChecks":
        return cls(torch.as_tensor(stereocentres(topology)), torch.as_tensor(bonded_pairs(start)))

    def accept(self, previous: torch.Tensor, proposed: torch.Tensor) -> torch.Tensor:
        """(W,) True where the proposal keeps every stereocentre and every bond length in range."""
        centres, bonds = self.centres.to(proposed.device), self.bonds.to(proposed.device)
        same = (handedness(proposed, centres) == handedness(previous, centres)).all(-1)
        d = (proposed[:, bonds[:, 0]] - proposed[:, bonds[:, 1]]).norm(dim=-1)
        low, high = PHYSICAL_BOND[0] + STORAGE_MARGIN, PHYSICAL_BOND[1] - STORAGE_MARGIN
        intact = ((d >= low) & (d <= high)).all(-1)
        ok = same & intact
        self.stats.proposals += len(ok)
        self.stats.rejected += int((~ok).sum())
        self.stats.inverted += int((~same).sum())
        self.stats.broken += int((~intact).sum())
        return ok
