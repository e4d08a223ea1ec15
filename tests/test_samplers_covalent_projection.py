"""Covalent projection of jump endpoints: restores 1-2 and 1-3 distances, commutes with rigid motions, keeps centroids."""

from __future__ import annotations

import numpy as np
import torch
from e3nn import o3

from gen3d.io.pdb import read_protein
from gen3d.samplers.covalent_projection import CovalentProjection, constraint_pairs
from tests.dynamics_fixtures import ala2_md


def _start(tmp_path) -> np.ndarray:
    structure = read_protein(ala2_md(tmp_path, ns=0.002) / "system.pdb")
    return structure.positions[structure.elements != "H"]


def test_constraints_are_the_bonds_and_the_angles_of_the_start(tmp_path):
    start = _start(tmp_path)
    pairs = constraint_pairs(start)
    d = np.linalg.norm(start[pairs[:, 0]] - start[pairs[:, 1]], axis=-1)
    assert len(start) == 10 and len(pairs) == 9 + 11  # alanine dipeptide: 9 heavy-atom bonds, 11 bond angles
    assert (d[:9] < 1.9).all() and (d[9:] > 2.0).all() and (d[9:] < 2.7).all()


def test_projection_restores_distorted_geometry_and_commutes_with_rigid_motions(tmp_path):
    start = _start(tmp_path)
    project = CovalentProjection.for_start(start)
    g = torch.Generator().manual_seed(0)
    x = torch.as_tensor(start, dtype=torch.float64).expand(8, -1, -1) + 0.15 * torch.randn(8, len(start), 3, generator=g, dtype=torch.float64)
    y = project(x)
    i, j = project.pairs[:, 0], project.pairs[:, 1]
    before = ((x[:, i] - x[:, j]).norm(dim=-1) - project.lengths).abs()
    after = ((y[:, i] - y[:, j]).norm(dim=-1) - project.lengths).abs()
    assert float(before.mean()) > 0.08 and float(after.max()) < 2e-3  # 0.15 Å of noise -> every distance within 0.002 Å
    torch.testing.assert_close(y.mean(1), x.mean(1), atol=1e-12, rtol=0)  # centroids kept
    R, t = o3.rand_matrix(dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(project(x @ R.T + t), y @ R.T + t, atol=1e-9, rtol=0)
    exact = torch.as_tensor(start, dtype=torch.float64)[None]
    torch.testing.assert_close(project(exact), exact, atol=1e-5, rtol=0)  # the start itself is a fixed point
