"""Point-group detection: the right group for common molecules, unchanged under rotation, translation,
atom permutation and 0.02 Å noise; exact closed operations; bad input is a SymmetryError."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gen3d.symmetry import SymmetryError, detect_point_group, point_group
from gen3d.symmetry.matrices import same_set
from tests.symmetry_fixtures import molecules

CASES = molecules()


def _scramble(numbers, positions, seed):
    """Random proper or improper rotation, translation, permutation and 0.02 Å Gaussian noise."""
    rng = np.random.default_rng(seed)
    rot = Rotation.random(random_state=seed).as_matrix() * (1 if seed % 2 else -1)
    perm = rng.permutation(len(numbers))
    moved = positions @ rot.T + rng.normal(scale=3.0, size=3) + rng.normal(scale=0.02, size=positions.shape)
    return numbers[perm], moved[perm]


@pytest.mark.parametrize("name", sorted(CASES))
def test_detects_group_under_random_moves_and_noise(name):
    numbers, positions, expected = CASES[name]
    assert detect_point_group(positions, numbers).symbol == expected
    for seed in range(4):
        moved_numbers, moved = _scramble(numbers, positions, seed)
        assert detect_point_group(moved, moved_numbers).symbol == expected


@pytest.mark.parametrize("name", ["benzene", "methane", "prism", "ethane"])
def test_operations_are_an_exact_closed_group_mapping_atoms(name):
    numbers, positions, expected = CASES[name]
    numbers, positions = _scramble(numbers, positions, 3)
    pg = detect_point_group(positions, numbers)
    ops = pg.operations
    assert np.abs(ops @ ops.transpose(0, 2, 1) - np.eye(3)).max() < 1e-12
    products = np.einsum("iab,jbc->ijac", ops, ops).reshape(-1, 3, 3)
    assert same_set(np.unique(products.round(9), axis=0), ops, 1e-9)
    assert same_set(ops, pg.frame @ point_group(expected) @ pg.frame.T, 1e-12)
    assert any(np.linalg.det(g) < 0 for g in ops)
    r = positions - pg.centre
    for g in ops:  # every operation maps each atom onto an atom of the same element
        d = np.linalg.norm((r @ g.T)[:, None] - r[None], axis=-1)
        d[numbers[:, None] != numbers[None]] = np.inf
        assert d.min(1).max() < 0.15


def test_principal_axis_is_the_highest_order_axis():
    numbers, positions, _ = CASES["benzene"]
    rot = Rotation.random(random_state=5).as_matrix()
    pg = detect_point_group(positions @ rot.T, numbers)
    assert abs(abs(pg.frame[:, 2] @ (rot @ [0, 0, 1])) - 1) < 1e-3


def test_linear_molecules_are_reported_as_infinite_groups():
    assert detect_point_group([[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]], [8, 6, 8]).symbol == "D*h"
    assert detect_point_group([[0, 0, 0], [0, 0, 1.13]], [6, 8]).symbol == "C*v"


@pytest.mark.parametrize("points, message", [
    ([[0.0, 0.0, 0.0]], "at least 2"),
    ([[0, 0, 0], [1, 0, 0], [1, 0, 0.01]], "coincide"),
    ([[0, 0, np.nan], [1, 0, 0]], "NaN"),
])
def test_bad_points_are_one_line_errors(points, message):
    with pytest.raises(SymmetryError, match=message) as err:
        detect_point_group(points)
    assert "\n" not in str(err.value)
