"""Relaxed equivariance: exact equivariance at initialisation; the learned breaking has the target's symmetry."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from gen3d.symmetry import detect_point_group
from gen3d.symmetry.relaxed import RelaxedNetwork, learned_symmetry, quadrupole, train_relaxed
from gen3d.symmetry.shapes import cube, square


def test_relaxed_layer_is_exactly_equivariant_at_initialisation():
    torch.manual_seed(1)
    net = RelaxedNetwork(cutoff=6.0).double()
    x = torch.randn(7, 3, dtype=torch.float64)
    assert set(np.round(np.abs(net.layer.breaking_vector()), 12)) == {0.0}
    for seed in range(4):
        r = torch.as_tensor(Rotation.random(random_state=seed).as_matrix() * (1 if seed % 2 else -1))
        assert (net(x @ r.T) - net(x) @ r.T).abs().max() < 1e-10


@pytest.mark.parametrize("shape, stretch, expected, axis", [
    (cube, [1.0, 1.0, 1.5], "D4h", 2),    # cube -> prism stretched along z
    (square, [1.3, 1.0, 1.0], "D2h", 0),  # square -> rectangle stretched along x
])
def test_learned_breaking_has_the_symmetry_of_the_target(shape, stretch, expected, axis):
    numbers, start = shape()
    target = start * np.array(stretch)
    net, losses = train_relaxed(start, target)
    assert losses[-1] < 1e-3 * losses[0]
    assert learned_symmetry(net.layer, detect_point_group(start, numbers).operations) == expected
    assert detect_point_group(target, numbers).symbol == expected
    parts = net.layer.components()
    assert np.linalg.norm(parts["2e"]) > 0.1
    assert max(np.abs(v).max() for k, v in parts.items() if k != "2e") < 1e-8  # odd and pseudo parts stay zero
    values, vectors = np.linalg.eigh(quadrupole(parts["2e"]))
    unique = np.argmax(np.abs(values - np.median(values)))  # the most distinct eigenvalue's axis is the stretch axis
    assert abs(vectors[axis, unique]) > 0.999
