"""Symphony from a symmetric seed: b picks among the equivalent placements, uniformly and equivariantly."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from scipy.stats import chisquare

from gen3d.samplers.base import ConditionError, SymmetryBreaking
from gen3d.samplers.symphony_symmetry import SymmetricSeedSampler, choose_placement
from gen3d.structures import Molecule
from gen3d.symmetry import detect_molecule
from gen3d.symmetry.irreps import representation
from gen3d.symmetry.shapes import benzene, methane
from tests.helpers import TINY, tiny_checkpoint

SEEDS = {"methane": methane, "benzene": benzene}
PLACEMENT = np.array([0.9, 0.5, 0.25])  # a generic first new atom (no symmetry of its own)


def _orbit_index(pg, chosen, position):
    orbit = pg.centre + (position - pg.centre) @ pg.operations.transpose(0, 2, 1)
    return int(np.linalg.norm(orbit - chosen, axis=1).argmin())


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_choice_is_uniform_over_the_orbit(name):
    seed = Molecule(*SEEDS[name]())
    cond = SymmetryBreaking.for_molecule(seed)
    pg = detect_molecule(seed)
    gen = torch.Generator().manual_seed(0)
    picks = [_orbit_index(pg, choose_placement(pg, PLACEMENT, cond.draw(gen), cond.breaking_set.irreps), PLACEMENT) for _ in range(720)]
    counts = np.bincount(picks, minlength=pg.order)
    assert pg.order == 24 and (counts > 0).all()
    assert chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_choice_is_equivariant(name):
    seed = Molecule(*SEEDS[name]())
    cond = SymmetryBreaking.for_molecule(seed)
    pg, irreps = detect_molecule(seed), cond.breaking_set.irreps
    for s in range(4):
        r = Rotation.random(random_state=s).as_matrix() * (1 if s % 2 else -1)
        moved = detect_molecule(Molecule(seed.numbers, seed.positions @ r.T + 1.0))
        for b in cond.breaking_set.elements[:6]:
            rb = representation(irreps, r)[0] @ b
            out = choose_placement(moved, PLACEMENT @ r.T + 1.0, rb, irreps)
            assert np.abs(out - (choose_placement(pg, PLACEMENT, b, irreps) @ r.T + 1.0)).max() < 1e-9


def test_sampler_grows_from_the_seed_reproducibly(tmp_path):
    seed = Molecule(*benzene())
    folder = tiny_checkpoint(tmp_path, config=replace(TINY, max_atoms=16))
    sampler = SymmetricSeedSampler.from_checkpoint(str(folder), valence_mask=False)
    cond = SymmetryBreaking.for_molecule(seed)
    first = list(sampler.sample(6, seed=3, condition=cond))
    again = list(sampler.sample(6, seed=3, condition=cond))
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(first, again))
    for mol in first:
        assert len(mol) > len(seed)
        core = mol.positions[:12] - mol.positions[:12].mean(0)
        assert np.abs(core - seed.positions).max() < 1e-5
    with pytest.raises(ConditionError, match="seed"):
        next(sampler.sample(1, condition=SymmetryBreaking(cond.breaking_set)))
