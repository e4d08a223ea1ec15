"""Symphony sampler: counts, determinism, conditions, and the registry."""

import numpy as np
import pytest

from gen3d.samplers import ConditionError, Length, StartFragment, get
from gen3d.samplers.symphony import SymphonySampler
from gen3d.structures import Molecule
from tests.helpers import TINY, tiny_checkpoint


@pytest.fixture(scope="module")
def sampler(tmp_path_factory):
    folder = tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))
    return SymphonySampler.from_checkpoint(str(folder))


def _key(mols):
    return [(m.numbers.tolist(), np.round(m.positions, 6).tolist()) for m in mols]


def test_yields_requested_number_of_molecules(sampler):
    mols = list(sampler.sample(7, seed=0, batch_size=3))
    assert len(mols) == 7
    assert len({m.name for m in mols}) == 7
    for m in mols:
        assert 1 <= len(m) <= TINY.max_atoms
        assert set(m.numbers.tolist()) <= set(TINY.elements)
        assert np.isfinite(m.positions).all()
        assert m.properties["gen3d_truncated"] == int(len(m) == TINY.max_atoms)


def test_same_seed_same_molecules_and_different_seed_differs(sampler):
    a = list(sampler.sample(6, seed=3, batch_size=6))
    b = list(sampler.sample(6, seed=3, batch_size=6))
    c = list(sampler.sample(6, seed=4, batch_size=6))
    assert _key(a) == _key(b)
    assert _key(a) != _key(c)


def test_new_atoms_sit_within_the_radial_grid_of_an_earlier_atom(sampler):
    for m in sampler.sample(5, seed=1, batch_size=5):
        if len(m) < 2:
            continue
        d = np.linalg.norm(m.positions[:, None] - m.positions[None], axis=-1)
        for k in range(1, len(m)):
            nearest = d[k, :k].min()
            assert nearest <= TINY.max_radius + 1e-5


def test_start_fragment_is_kept(sampler):
    start = Molecule([6, 8], [[0.0, 0.0, 0.0], [1.2, 0.0, 0.0]])
    for m in sampler.sample(3, seed=0, batch_size=3, condition=StartFragment(start)):
        assert m.numbers[:2].tolist() == [6, 8]
        assert np.isclose(np.linalg.norm(m.positions[1] - m.positions[0]), 1.2, atol=1e-5)


def test_bad_conditions_are_refused(sampler):
    with pytest.raises(ConditionError):
        list(sampler.sample(1, condition=Length(5)))
    with pytest.raises(ConditionError):
        list(sampler.sample(1, condition=StartFragment(Molecule([17], [[0, 0, 0]]))))


def test_temperature_must_be_positive(sampler):
    with pytest.raises(ValueError):
        SymphonySampler(sampler.model, temperature=0.0)


def test_registry_knows_symphony():
    entry = get("symphony-qm9")
    assert entry.sampler_class() is SymphonySampler
    with pytest.raises(KeyError):
        get("no-such-model")


def test_saturated_atoms_follow_the_bond_rule():
    import torch

    from gen3d.samplers.symphony import saturated_atoms

    # methane (C saturated, each H saturated) and a lone C next to one H (neither C saturated... H is)
    pos = torch.tensor([[[0, 0, 0], [0.629, 0.629, 0.629], [-0.629, -0.629, 0.629], [-0.629, 0.629, -0.629],
                         [0.629, -0.629, -0.629]],
                        [[0, 0, 0], [1.09, 0, 0], [9, 9, 9], [9, 9, 9], [9, 9, 9]]], dtype=torch.float32)
    elements = torch.tensor([1, 6, 7, 8, 9])
    species = torch.tensor([[1, 0, 0, 0, 0], [1, 0, 0, 0, 0]])
    present = torch.tensor([[True] * 5, [True, True, False, False, False]])
    mask = saturated_atoms(species, pos, present, elements)
    assert mask[0].all()
    assert mask[1].tolist() == [False, True, False, False, False]


def test_valence_mask_stops_a_saturated_start_fragment(tmp_path):
    """Methane has no free valence: with the mask, STOP is the only choice left."""
    sampler = SymphonySampler.from_checkpoint(str(tiny_checkpoint(tmp_path)), valence_mask=True)
    methane = Molecule([6, 1, 1, 1, 1], [[0, 0, 0], [0.629, 0.629, 0.629], [-0.629, -0.629, 0.629],
                                         [-0.629, 0.629, -0.629], [0.629, -0.629, -0.629]])
    grown = list(sampler.sample(4, seed=0, batch_size=4, condition=StartFragment(methane)))
    assert [len(m) for m in grown] == [5, 5, 5, 5]
    unmasked = SymphonySampler(sampler.model, valence_mask=False)
    assert any(len(m) > 5 for m in unmasked.sample(8, seed=0, batch_size=8, condition=StartFragment(methane)))


def test_valence_mask_does_not_stop_on_a_radical(tmp_path):
    """A methyl radical has one free valence (odd): STOP is forbidden until it is paired up."""
    sampler = SymphonySampler.from_checkpoint(str(tiny_checkpoint(tmp_path)), valence_mask=True)
    methyl = Molecule([6, 1, 1, 1], [[0, 0, 0], [0.629, 0.629, 0.629], [-0.629, -0.629, 0.629], [-0.629, 0.629, -0.629]])
    for m in sampler.sample(6, seed=0, batch_size=6, condition=StartFragment(methyl)):
        assert len(m) > 4


def test_valence_mask_keeps_new_hydrogens_off_other_atoms(tmp_path):
    sampler = SymphonySampler.from_checkpoint(str(tiny_checkpoint(tmp_path, seed=3)), valence_mask=True)
    for m in sampler.sample(6, seed=1, batch_size=6):
        d = np.linalg.norm(m.positions[:, None] - m.positions[None], axis=-1) + np.eye(len(m)) * 9
        assert d.min() >= 0.7 - 1e-6 or len(m) == 1


def test_blocker_caps_match_brute_force_distances(tmp_path):
    """The spherical-cap test equals checking distances from every candidate position directly."""
    import torch

    from gen3d.samplers.symphony import CONTACT_TOLERANCE, COVALENT_RADIUS_T, LONG_BOND, MIN_CONTACT, OVERLAP

    sampler = SymphonySampler.from_checkpoint(str(tiny_checkpoint(tmp_path)), valence_mask=True)
    g = torch.Generator().manual_seed(0)
    G, M = 4, 6
    pos = torch.randn(G, M, 3, generator=g) * 1.5
    species = torch.randint(0, 5, (G, M), generator=g)
    present = torch.ones(G, M, dtype=torch.bool)
    present[0, 4:] = False
    saturated = torch.rand(G, M, generator=g) < 0.5
    focus = torch.tensor([0, 1, 2, 3])
    element = torch.tensor([0, 1, 2, 0])
    blocked = sampler._blocker(pos, present, species, saturated, focus, element)
    r = torch.tensor([1.0, 1.2, 1.5, 1.1])
    dirs = torch.nn.functional.normalize(torch.randn(1, 500, 3, generator=g), dim=-1)
    got = blocked(r, dirs)
    elements = torch.tensor([1, 6, 7, 8, 9])
    cand = pos[torch.arange(G), focus][:, None] + r[:, None, None] * dirs  # (G, P, 3)
    dist = torch.cdist(cand, pos)
    rad = COVALENT_RADIUS_T[elements[species]]
    pair = (COVALENT_RADIUS_T[elements[element]][:, None] + rad)[:, None]  # (G, 1, M)
    others = present.clone()
    others[torch.arange(G), focus] = False
    forbidden = others & (saturated | (element == 0)[:, None])
    too_close = dist < (MIN_CONTACT * pair).clamp_min(OVERLAP)
    bonded = dist < CONTACT_TOLERANCE * pair
    stretched = bonded & (dist >= LONG_BOND * pair)  # a bond xyz2mol would read, but too long to be one
    expect = ((too_close | (bonded & forbidden[:, None]) | stretched) & others[:, None]).any(-1)
    assert torch.equal(got, expect)
    assert (stretched & others[:, None]).any() and got.any() and not got.all()  # the new rule is exercised
