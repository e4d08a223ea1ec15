"""Symphony's distributions are E(3)-invariant (as densities), normalised, and trainable.

Random weights; tolerance 1e-3 on log-probabilities (float32 through ~10 layers and a
4,096-point sphere quadrature, which is exact for rotations only up to grid error: the
normaliser is checked separately against a finer grid).
"""

import math

import numpy as np
import pytest
import torch
from e3nn import o3

from gen3d.data.fragments import collate, sample_fragment
from gen3d.models.symphony import Symphony, SymphonyConfig

SMALL = SymphonyConfig(irreps_hidden="16x0e + 4x1o", num_layers=2, head_hidden=32, num_radii=16, sphere_points=4096)


def _ethanol():
    numbers = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])
    positions = np.array(
        [[-0.748, -0.015, 0.024], [0.558, 0.420, -0.278], [0.629, 1.669, 0.179], [-1.268, 0.854, 0.451],
         [-1.347, -0.337, -0.842], [-0.649, -0.802, 0.778], [0.704, 0.339, -1.375], [1.385, -0.146, 0.160],
         [1.501, 1.981, -0.024]], dtype=np.float32)
    return numbers, positions


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    frags = [f for f in (sample_fragment(*_ethanol(), rng) for _ in range(12)) if f is not None]
    return collate(frags)


@pytest.fixture
def model():
    return Symphony(SMALL).eval()


def _transform(batch, R, shift):
    from dataclasses import replace

    return replace(batch, positions=batch.positions @ R.T + shift, targets=batch.targets @ R.T + shift)


def _log_probs(model, batch):
    x = model.features(batch.species, batch.positions, batch.batch)
    node, stop = model.focus_log_probs(x, batch.batch, batch.num_graphs)
    dist = model.position_distribution(x, batch.positions, batch.batch, batch.focus, batch.element)
    rel = batch.targets - batch.positions[batch.focus][:, None]
    return node, stop, model.log_density(dist, rel)


@pytest.mark.parametrize("reflect", [False, True])
def test_invariance_under_rigid_motions(model, batch, reflect):
    R = o3.rand_matrix() * (-1 if reflect else 1)
    shift = torch.randn(3) * 5
    with torch.no_grad():
        a = _log_probs(model, batch)
        b = _log_probs(model, _transform(batch, R, shift))
    assert torch.allclose(a[0], b[0], atol=1e-3)
    assert torch.allclose(a[1], b[1], atol=1e-3)
    mask = batch.target_mask
    assert torch.allclose(a[2][mask], b[2][mask], atol=1e-3)


def test_focus_distribution_is_normalised(model, batch):
    with torch.no_grad():
        x = model.features(batch.species, batch.positions, batch.batch)
        node, stop = model.focus_log_probs(x, batch.batch, batch.num_graphs)
    total = torch.zeros(batch.num_graphs).index_add_(0, batch.batch, node.exp().sum(-1)) + stop.exp()
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5)


def test_position_density_integrates_to_one(model, batch):
    """Monte-Carlo integral of the density over the radial shell is 1 (within 5 %)."""
    c = model.config
    with torch.no_grad():
        x = model.features(batch.species, batch.positions, batch.batch)
        dist = model.position_distribution(x, batch.positions, batch.batch, batch.focus, batch.element)
        g = torch.Generator().manual_seed(0)
        n = 40000
        lo, hi = c.min_radius**3, c.max_radius**3
        r = (lo + (hi - lo) * torch.rand(n, 1, generator=g)) ** (1 / 3)  # uniform in the shell volume
        u = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
        pts = (r * u).expand(len(dist.mix), n, 3)
        volume = 4 / 3 * math.pi * (hi - lo)
        integral = model.log_density(dist, pts).exp().mean(-1) * volume
    assert torch.allclose(integral, torch.ones_like(integral), atol=0.05)


def test_loss_decreases_on_one_batch(batch):
    model = Symphony(SMALL)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        loss = model(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < first - 0.5
