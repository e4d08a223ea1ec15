"""Symmetry-breaking sets: trivial (or exactly K) stabilisers, closure under S and N(S), B(Rx) = R B(x),
and the negative control: a set closed only under S is not equivariant."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gen3d.symmetry import SymmetryError, classify, detect_point_group, point_group
from gen3d.symmetry.irreps import generic_vector, representation
from gen3d.symmetry.matrices import rotation
from gen3d.symmetry.normaliser import normaliser
from gen3d.symmetry.sets import BreakingSet, breaking_set, breaking_set_for
from gen3d.symmetry.shapes import barium_titanate, methane, triangular_prism

FULL = ["Cs", "C2v", "D2", "D2d", "D3", "C3v", "D3d", "D3h", "C4v", "Td", "Oh"]
PARTIAL = [("Oh", "C4v"), ("D3h", "Cs"), ("Td", "C3v"), ("Oh", "D4h"), ("D6h", "C6v")]


def _same_elements(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    return a.shape == b.shape and all(np.abs(b - x).max(-1).min() < tol for x in a)


def _closed_under(bset: BreakingSet, ops: np.ndarray) -> bool:
    return all(_same_elements(bset.elements @ d.T, bset.elements) for d in representation(bset.irreps, ops))


@pytest.mark.parametrize("group, target", [(g, "C1") for g in FULL] + PARTIAL)
def test_stabilisers_closure_and_size(group, target):
    bset, ops = breaking_set(group, target), point_group(group)
    d = representation(bset.irreps, ops)
    for b in bset.elements:
        stab = ops[np.linalg.norm(d @ b - b, axis=-1) < 1e-8]
        assert classify(stab) == target
    assert _closed_under(bset, ops)
    assert _closed_under(bset, normaliser(group).ops)
    assert bset.ideal and len(bset.elements) == len(ops) // len(point_group(target))


@pytest.mark.parametrize("make", [triangular_prism, methane, barium_titanate])
def test_set_of_rotated_input_is_the_rotated_set(make):
    numbers, x = make()
    base = breaking_set_for(detect_point_group(x, numbers))
    for seed in range(6):
        r = Rotation.random(random_state=seed).as_matrix() * (1 if seed % 2 else -1)
        moved = breaking_set_for(detect_point_group(x @ r.T + 1.5, numbers))
        assert _same_elements(moved.elements, base.rotated(r).elements, 1e-5)


def test_negative_control_a_set_closed_only_under_s_is_not_equivariant():
    numbers, x = triangular_prism()
    pg = detect_point_group(x, numbers)
    d_s = representation("1x1o", point_group("D3h"))
    s_only = BreakingSet("D3h", "C1", "1x1o", d_s @ generic_vector(3), "D3h", False)  # closed under S only
    assert not _closed_under(s_only, normaliser("D3h").ops)
    r = pg.frame @ rotation([0, 0, 1], np.pi / 3) @ pg.frame.T  # a C6 of the normaliser D6h, not in D3h
    moved = detect_point_group(x @ r.T, numbers)
    bad_x, bad_rx = s_only.rotated(pg.frame), s_only.rotated(moved.frame)
    assert not _same_elements(bad_rx.elements, bad_x.rotated(r).elements, 1e-3)
    good = breaking_set("D3h")
    assert _same_elements(good.rotated(moved.frame).elements, good.rotated(pg.frame).rotated(r).elements, 1e-6)


def _on_circles(elements: np.ndarray, circles: BreakingSet) -> bool:
    """Every element is a rotation about the set's axis of one of its base elements."""
    turns = representation(circles.irreps, np.stack([rotation(circles.axis, a) for a in np.linspace(0, 2 * np.pi, 1441)]))
    orbit = np.einsum("tij,mj->tmi", turns, circles.elements).reshape(-1, circles.dim)
    return all(np.abs(orbit - e).max(-1).min() < 5e-3 for e in elements)


def test_axial_groups_fall_back_to_a_continuous_orbit_that_is_still_equivariant():
    bset = breaking_set("C3")
    assert bset.continuous == "axis" and bset.normaliser == "D*h" and not bset.ideal
    ops = point_group("C3")
    import torch

    gen = torch.Generator().manual_seed(0)
    draws = np.stack([bset.draw(gen) for _ in range(50)])
    d = representation(bset.irreps, ops)
    assert all(classify(ops[np.linalg.norm(d @ b - b, axis=-1) < 1e-8]) == "C1" for b in draws)
    assert _on_circles(draws, bset)
    frame, r = Rotation.random(random_state=1).as_matrix(), -Rotation.random(random_state=2).as_matrix()
    moved = bset.rotated(r @ frame)
    assert _on_circles(bset.rotated(frame).rotated(r).elements, moved)
    assert breaking_set("Ci").continuous == "all"


def test_partial_breaking_of_the_cube_gives_the_six_tetragonal_directions():
    bset = breaking_set("Oh", "C4v")
    assert bset.irreps == "1x1o" and _same_elements(np.abs(bset.elements).round(9), np.abs(np.eye(3)[[0, 0, 1, 1, 2, 2]]))


@pytest.mark.parametrize("group, target, message", [
    ("Q7", "C1", "unknown point group"), ("D3h", "C4v", "not a subgroup"), ("Td", "Oh", "not a subgroup"),
])
def test_bad_groups_are_one_line_errors(group, target, message):
    with pytest.raises(SymmetryError, match=message):
        breaking_set(group, target)


def test_linear_input_has_no_finite_set():
    with pytest.raises(SymmetryError, match="infinite"):
        breaking_set_for(detect_point_group([[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]], [8, 6, 8]))
