"""Symphony continued from a symmetric seed fragment, with a symmetry-breaking set choosing the placement.

The shipped Symphony checkpoint was not trained with b as an input, so b cannot enter its network.
What it can decide honestly: from a seed with point group S (methane Td, benzene D6h) the model's
distribution of the first new atom is S-invariant, so every placement p comes with |S|/|Stab(p)|
equally likely equivalents g p. The sampler draws p as usual, draws b once per molecule from the
seed's breaking set, and keeps the equivalent g p that pairs best with b (an O(3)-invariant score,
:func:`~gen3d.symmetry.toys.pairing`). Which equivalent placement a molecule takes is then set by b:
uniform over the orbit when b is uniform over the set, and equivariant (rotating seed and b rotates
the placement). Growth after the first atom is ordinary Symphony sampling.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from gen3d.samplers.base import Condition, ConditionError, StartFragment, SymmetryBreaking
from gen3d.samplers.symphony import SymphonySampler
from gen3d.structures import Molecule
from gen3d.symmetry.detect import PointGroup, detect_molecule
from gen3d.symmetry.toys import pairing


def choose_placement(pg: PointGroup, position: np.ndarray, b: np.ndarray, irreps: str) -> np.ndarray:
    """The symmetry-equivalent of ``position`` (g position about the centre, g in S) that pairs best with b."""
    rel = np.asarray(position, dtype=float) - pg.centre
    orbit = rel @ pg.operations.transpose(0, 2, 1)
    scores = pairing(orbit, b, irreps)
    if np.ptp(scores) < 1e-12 and len(orbit) > 1 and np.abs(b).max() > 0:
        raise ConditionError(f"a {irreps} breaking set cannot pick among placements (use a natural-parity set: 1o, 2e, 3o)")
    return pg.centre + orbit[int(np.argmax(scores))]


class SymmetricSeedSampler(SymphonySampler):
    """:class:`SymphonySampler` that also accepts :class:`SymmetryBreaking` with its seed as ``structure``."""

    conditions = (StartFragment, SymmetryBreaking)

    def sample(self, num: int, *, seed: int = 0, batch_size: int = 64, device: str | torch.device = "cpu",
               condition: Condition | None = None) -> Iterator[Molecule]:
        self._breaking, self._choices = None, {}
        if isinstance(condition, SymmetryBreaking):
            if condition.structure is None:
                raise ConditionError("Symphony needs the symmetric seed fragment: SymmetryBreaking.for_molecule(seed)")
            self._breaking = (condition, detect_molecule(condition.structure), len(condition.structure))
            self._draws = torch.Generator().manual_seed(seed + 7919)
            condition = StartFragment(condition.structure)
        yield from super().sample(num, seed=seed, batch_size=batch_size, device=device, condition=condition)

    def _sample_batch(self, size, generator, device, start):
        self._batch_b = None
        if self._breaking is not None:
            cond = self._breaking[0]
            self._batch_b = [cond.draw(self._draws) for _ in range(size)]  # one b per molecule (trajectory)
        yield from super()._sample_batch(size, generator, device, start)

    def _step(self, active, species, pos, count, generator) -> torch.Tensor:
        before = count.clone()
        stop = super()._step(active, species, pos, count, generator)
        if self._breaking is not None:
            cond, pg, n0 = self._breaking
            first = active[(before[active] == n0) & (count[active] == n0 + 1)]
            for row in first.tolist():
                chosen = choose_placement(pg, pos[row, n0].double().cpu().numpy(), self._batch_b[row], cond.breaking_set.irreps)
                pos[row, n0] = torch.as_tensor(chosen, dtype=pos.dtype, device=pos.device)
        return stop
