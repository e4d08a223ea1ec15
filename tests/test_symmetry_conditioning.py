"""Networks conditioned on a symmetry-breaking element b: equivariance f(Rx, Rb) = R f(x, b), coverage of the
target orbit over the set, symmetric output for b = 0, uniform and equivariant sampling, and the ODE toy."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from scipy.stats import chi2_contingency, chisquare

from gen3d.samplers.base import ConditionError, Length, SymmetryBreaking
from gen3d.samplers.symmetry_toys import FlowSampler, SelectionSampler
from gen3d.structures import Molecule
from gen3d.symmetry import detect_point_group
from gen3d.symmetry.flow import barium_titanate_flow_task, integrate, train_flow
from gen3d.symmetry.irreps import representation
from gen3d.symmetry.toys import barium_titanate_task, distort, logits, prism_task, selected_position, train_selector

ROTATIONS = [Rotation.random(random_state=s).as_matrix() * (1 if s % 2 else -1) for s in range(4)]


@pytest.fixture(scope="module", params=["prism", "BaTiO3", "BaTiO3-full"])
def trained(request):
    """Prism (D3h, 12 b); BaTiO3 broken to C4v (6 b); BaTiO3 fully broken (48 b, 8 per variant)."""
    task = {"prism": prism_task, "BaTiO3": barium_titanate_task, "BaTiO3-full": lambda: barium_titanate_task("C1")}[request.param]()
    net, losses = train_selector(task)
    assert losses[-1] < 0.05 * losses[0]
    return task, net


@pytest.fixture(scope="module")
def flow():
    task = barium_titanate_flow_task()
    net, _ = train_flow(task)
    return task, net


def _inputs(task):
    b = torch.as_tensor(task.bset.elements)
    return torch.as_tensor(task.positions)[None].expand(len(b), -1, -1), b


def test_conditioned_network_is_equivariant(trained):
    task, net = trained
    pos, b = _inputs(task)
    with torch.no_grad():
        out = selected_position(net, task, pos, b)
        for r in ROTATIONS:
            d = torch.as_tensor(representation(task.bset.irreps, r)[0])
            moved = selected_position(net, task, pos @ torch.as_tensor(r).T, b @ d.T)
            assert (moved - out @ torch.as_tensor(r).T).abs().max() < 1e-9


def test_outputs_cover_the_whole_orbit(trained):
    task, net = trained
    pos, b = _inputs(task)
    with torch.no_grad():
        chosen = logits(net, task, pos, b).argmax(-1).numpy()
        out = selected_position(net, task, pos, b).numpy()
    assert (chosen == task.targets).all()
    assert set(chosen.tolist()) == set(np.flatnonzero(task.candidates).tolist())  # all 6 vertices / all 6 O
    assert np.linalg.norm(out - task.positions[chosen], axis=-1).max() < 0.15  # crisp: within 0.15 of a 2 Å site


def test_zero_b_keeps_the_input_symmetry(trained):
    task, net = trained
    pg = detect_point_group(task.positions, task.numbers)
    pos = torch.as_tensor(task.positions)[None]
    with torch.no_grad():
        out = selected_position(net, task, pos, torch.zeros(1, task.bset.dim, dtype=torch.float64))[0].numpy()
        lg = logits(net, task, pos, torch.zeros(1, task.bset.dim, dtype=torch.float64))[0].numpy()
    for g in pg.operations:
        assert np.abs((out - pg.centre) @ g.T - (out - pg.centre)).max() < 1e-9
    assert np.ptp(lg[task.candidates]) < 1e-9


def _counts(sampler, condition, n, num=600, seed=0):
    picks = [mol.properties["selected"] for mol in sampler.sample(num, seed=seed, batch_size=200, condition=condition)]
    return np.bincount(picks, minlength=n)


def test_samples_are_uniform_over_the_orbit_and_the_distribution_is_equivariant(trained):
    task, net = trained
    sampler = SelectionSampler(net, task)
    mol = Molecule(task.numbers, task.positions)
    counts = _counts(sampler, SymmetryBreaking.for_molecule(mol, task.bset.target), len(task.numbers))
    sites = np.flatnonzero(task.candidates)
    assert counts.sum() == 600 and counts[~task.candidates].sum() == 0
    assert chisquare(counts[sites]).pvalue > 1e-3
    r = ROTATIONS[2]  # improper
    moved = Molecule(task.numbers, task.positions @ r.T + 2.0)
    rotated_counts = _counts(sampler, SymmetryBreaking.for_molecule(moved, task.bset.target), len(task.numbers), seed=1)
    assert chisquare(rotated_counts[sites]).pvalue > 1e-3
    assert chi2_contingency(np.stack([counts[sites], rotated_counts[sites]])).pvalue > 1e-3
    # each sample from the rotated input is the rotated image of a sample from the original one
    pos, b = _inputs(task)
    with torch.no_grad():
        base = distort(task, pos, logits(net, task, pos, b).softmax(-1)).numpy()  # the outcome of every b in the set
    for m in sampler.sample(24, seed=3, condition=SymmetryBreaking.for_molecule(moved, task.bset.target)):
        back = (m.positions - 2.0) @ r
        assert np.abs(base - back).max(axis=(1, 2)).min() < 1e-6


def test_without_condition_samples_keep_the_symmetry(trained):
    task, net = trained
    mol = next(SelectionSampler(net, task).sample(1))
    assert detect_point_group(mol.positions, mol.numbers, tol=0.01).symbol == detect_point_group(task.positions, task.numbers).symbol
    with pytest.raises(ConditionError):
        next(SelectionSampler(net, task).sample(1, condition=Length(3)))


def test_flow_endpoints_cover_the_tetragonal_variants_and_zero_b_stays_cubic(flow):
    task, net = flow
    b = torch.as_tensor(task.bset.elements)
    x0 = torch.as_tensor(task.start)[None].expand(len(b), -1, -1)
    ends = integrate(net, task.species, x0, b).numpy()
    assert np.linalg.norm(ends - task.ends, axis=-1).max() < 0.2
    shifts = ends[:, 0] - ends[:, 1:].mean(1)  # Ti off the cage centre
    directions = {tuple(np.round(s / np.linalg.norm(s)).astype(int)) for s in shifts}
    assert len(directions) == 6
    assert all(detect_point_group(e, task.numbers, tol=0.05).symbol == "C4v" for e in ends)
    still = integrate(net, task.species, x0[:1], torch.zeros(1, 3, dtype=torch.float64))[0].numpy()
    assert detect_point_group(still, task.numbers, tol=1e-3).symbol == "Oh"
    r = ROTATIONS[0]
    d = torch.as_tensor(representation(task.bset.irreps, r)[0])
    moved = integrate(net, task.species, x0 @ torch.as_tensor(r).T, b @ d.T).numpy()
    assert np.abs(moved - ends @ r.T).max() < 1e-9


def test_flow_sampler_spreads_uniformly_over_variants(flow):
    task, net = flow
    mol = Molecule(task.numbers, task.start)
    ends = list(FlowSampler(net, task).sample(600, seed=0, batch_size=300, condition=SymmetryBreaking.for_molecule(mol, task.bset.target)))
    shifts = np.stack([m.positions[0] - m.positions[1:].mean(0) for m in ends])
    axis = np.abs(shifts).argmax(1) * 2 + (shifts[np.arange(len(shifts)), np.abs(shifts).argmax(1)] > 0)
    assert chisquare(np.bincount(axis, minlength=6)).pvalue > 1e-3
