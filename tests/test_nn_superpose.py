"""Batched torch Kabsch: recovers known rotations and never returns a reflection."""

from __future__ import annotations

import torch
from e3nn import o3

from gen3d.nn.superpose import proper_rotations


def test_recovers_rotations_in_a_batch_and_stays_proper_for_mirror_images():
    torch.manual_seed(0)
    points = torch.randn(4, 7, 3, dtype=torch.float64)
    points = points - points.mean(-2, keepdim=True)
    rots = o3.rand_matrix(4, dtype=torch.float64)
    moved = points @ rots.transpose(-1, -2)
    torch.testing.assert_close(proper_rotations(points, moved), rots, atol=1e-10, rtol=0)
    mirror = proper_rotations(points, -points)  # the best proper rotation onto a mirror image
    torch.testing.assert_close(torch.linalg.det(mirror), torch.ones(4, dtype=torch.float64), atol=1e-10, rtol=0)
