"""E(3) equivariance of the shared backbone with random weights.

Computed in float64; tolerance 1e-6 absolute on outputs of magnitude ~1-10 (e3nn keeps some
Clebsch-Gordan constants at float32 precision, so errors sit near 1e-7).
"""

import pytest
import torch
from e3nn import o3

from gen3d.nn import EquivariantEmbedding, RadialEmbedding

TOL = 1e-6


@pytest.fixture
def cloud():
    species = torch.randint(0, 5, (14,))
    positions = torch.randn(14, 3, dtype=torch.float64) * 1.5
    batch = torch.tensor([0] * 8 + [1] * 6)
    return species, positions, batch


@pytest.fixture(params=["32x0e + 8x1o + 4x2e", "16x0e + 8x1o"])
def model(request):
    return EquivariantEmbedding(5, request.param, num_layers=2, lmax_sh=2, cutoff=4.0).double().eval()


def test_rotation_equivariance(model, cloud):
    species, pos, batch = cloud
    R = o3.rand_matrix(dtype=torch.float64)
    D = model.irreps_hidden.D_from_matrix(R)
    out_rot = model(species, pos @ R.T, batch)
    assert torch.allclose(out_rot, model(species, pos, batch) @ D.T, atol=TOL)


def test_reflection_equivariance(model, cloud):
    species, pos, batch = cloud
    P = -torch.eye(3, dtype=torch.float64)  # inversion; with rotations this generates all of O(3)
    D = model.irreps_hidden.D_from_matrix(P)
    assert torch.allclose(model(species, -pos, batch), model(species, pos, batch) @ D.T, atol=TOL)


def test_translation_invariance(model, cloud):
    species, pos, batch = cloud
    shift = torch.randn(1, 3, dtype=torch.float64) * 10
    assert torch.allclose(model(species, pos + shift, batch), model(species, pos, batch), atol=TOL)


def test_permutation_equivariance(model, cloud):
    species, pos, batch = cloud
    perm = torch.randperm(len(species))
    out = model(species[perm], pos[perm], batch[perm])
    assert torch.allclose(out, model(species, pos, batch)[perm], atol=TOL)


def test_graphs_do_not_interact(model, cloud):
    species, pos, batch = cloud
    alone = model(species[:8], pos[:8], batch[:8])
    assert torch.allclose(model(species, pos, batch)[:8], alone, atol=TOL)


def test_radial_embedding_vanishes_at_cutoff():
    radial = RadialEmbedding(cutoff=3.0, num_basis=6)
    r = torch.tensor([0.5, 2.99999, 3.0, 4.0])
    values = radial(r)
    assert values.shape == (4, 6)
    assert values[0].abs().sum() > 0.1
    assert values[1:].abs().max() < 1e-6


def test_radius_graph_matches_dense_reference():
    from gen3d.nn import radius_graph

    pos = torch.randn(30, 3) * 2
    batch = torch.tensor([0] * 7 + [1] * 1 + [2] * 12 + [3] * 10)
    edges = radius_graph(pos, batch, 2.5)
    d = torch.cdist(pos, pos)
    ref = ((d < 2.5) & (batch[:, None] == batch[None]) & ~torch.eye(30, dtype=torch.bool)).nonzero().T
    assert sorted(map(tuple, edges.T.tolist())) == sorted(map(tuple, ref.T.tolist()))
