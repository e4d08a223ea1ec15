"""Latent paths and steric refinement: exact ends, SO(3) equivariance, and overlaps that refinement removes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from e3nn import o3

from gen3d.data.protein_chains import protein_from_chains as chains_to_protein, residue_chains
from gen3d.data.residues import SLOT_EXISTS
from gen3d.io.pdb import read_protein
from gen3d.metrics.protein_geometry import backbone
from gen3d.metrics.protein_structure import clashes
from gen3d.models.ophiuchus.autoencoder import Latent, Ophiuchus
from gen3d.models.ophiuchus.sterics import steric_overlap
from gen3d.samplers.latent_paths import latent_path, local_rotations
from gen3d.samplers.latent_refinement import Refinement, refine_latent
from tests.protein_fixtures import TINY_AE, dssp_chain

TOL = 1e-6  # float64, feature units and Å


def _latents(seed: int = 0, nodes: int = 12) -> tuple[Latent, Latent]:
    """Two latents whose second is the first with a rotated half (a 'domain' motion) plus noise."""
    g = torch.Generator().manual_seed(seed)
    dim = o3.Irreps(TINY_AE.irreps_latent).dim
    pos = torch.randn(1, nodes, 3, generator=g, dtype=torch.float64) * 5
    feat = torch.randn(1, nodes, dim, generator=g, dtype=torch.float64)
    rot = o3.rand_matrix(dtype=torch.float64)
    D = o3.Irreps(TINY_AE.irreps_latent).D_from_matrix(rot)
    half = torch.arange(nodes) >= nodes // 2
    pos2 = torch.where(half[None, :, None], pos @ rot.T, pos) + 0.1 * torch.randn(1, nodes, 3, generator=g, dtype=torch.float64)
    feat2 = torch.where(half[None, :, None], feat @ D.T, feat)
    mask = torch.ones(1, nodes, dtype=torch.bool)
    return Latent(pos, feat, mask), Latent(pos2, feat2, mask)


@pytest.mark.parametrize("kind", ["linear", "geodesic"])
def test_paths_start_and_end_at_the_two_latents(kind):
    a, b = _latents()
    path = latent_path(a, b, 5, TINY_AE.irreps_latent, kind)
    assert len(path) == 5
    assert torch.allclose(path[0].features, a.features, atol=TOL) and torch.allclose(path[-1].features, b.features, atol=1e-5)
    assert torch.allclose(path[-1].positions, b.positions, atol=TOL)


def test_geodesic_path_is_so3_equivariant_and_keeps_rotated_features_at_length():
    a, b = _latents()
    irreps = o3.Irreps(TINY_AE.irreps_latent)
    rot = o3.rand_matrix(dtype=torch.float64)
    D = irreps.D_from_matrix(rot)
    turn = lambda l: Latent(l.positions @ rot.T, l.features @ D.T, l.mask)  # noqa: E731
    plain = latent_path(a, b, 4, TINY_AE.irreps_latent)
    turned = latent_path(turn(a), turn(b), 4, TINY_AE.irreps_latent)
    for p, q in zip(plain, turned):
        assert torch.allclose(p.features @ D.T, q.features, atol=1e-5)
    # nodes of a rigidly turned neighbourhood: the local rotation is recovered and the midpoint keeps the norm
    rots = local_rotations(a.positions, a.positions @ rot.T, a.mask)
    assert torch.allclose(rots, rot.expand_as(rots), atol=1e-6)
    rigid = latent_path(a, turn(a), 3, TINY_AE.irreps_latent)[1]
    assert torch.allclose(rigid.features.norm(dim=-1), a.features.norm(dim=-1), atol=1e-5)


def _chain():
    return residue_chains(read_protein(dssp_chain("4gcnA")))[0]


def test_steric_overlap_is_zero_for_a_real_chain_and_counts_the_clashes_it_is_given():
    chain = _chain()
    coords = torch.from_numpy(chain.coords)[None].double()
    aatype = torch.from_numpy(chain.aatype)[None]
    exists = torch.from_numpy(chain.mask)[None]
    protein = chains_to_protein([chain])
    real = clashes(protein, backbone(protein)).count
    assert real == 0 and float(steric_overlap(coords, exists, aatype)) == 0.0
    squeezed = coords * 0.8  # everything closer: both the clash score and the energy see it
    squeezed_protein = chains_to_protein([replace(chain, coords=squeezed[0].float().numpy())])
    assert clashes(squeezed_protein, backbone(squeezed_protein)).count > 0
    assert float(steric_overlap(squeezed, exists, aatype)) > 0
    rot = o3.rand_matrix(dtype=torch.float64)
    assert torch.allclose(steric_overlap(squeezed @ rot.T + 3.0, exists, aatype), steric_overlap(squeezed, exists, aatype))


def test_refinement_lowers_the_overlap_of_a_random_network_and_zero_steps_is_identity():
    torch.manual_seed(0)
    model = Ophiuchus(TINY_AE).double().eval()
    chain = _chain()
    n = model.padded_length(len(chain))
    from gen3d.samplers.ophiuchus import batch_chains

    batch = batch_chains([chain], n)
    coords = batch.coords.double() - batch.coords[:, :, 1].double().mean(1, keepdim=True)[:, :, None]
    latent = model.encode(batch.aatype, coords * batch.atom_mask[..., None], batch.atom_mask, batch.mask)
    latent = Latent(latent.positions * 0.7, latent.features, latent.mask)  # squeezed: overlaps to remove

    @torch.no_grad()
    def energy(l: Latent) -> float:
        d = model.decode(l, batch.mask)
        a = d.logits.argmax(-1)
        return float(steric_overlap(d.coords(a), torch.as_tensor(SLOT_EXISTS)[a] & batch.mask[..., None], a))

    assert refine_latent(model, latent, batch.mask, Refinement(steps=0)) is latent
    before = energy(latent)
    after = energy(refine_latent(model, latent, batch.mask, Refinement(steps=15)))
    assert before > 0 and after < 0.5 * before
    assert np.isfinite(after)


def test_refining_a_batch_gives_what_each_structure_gets_alone():
    torch.manual_seed(0)
    model = Ophiuchus(TINY_AE).double().eval()
    a, b = _latents(1, nodes=8), _latents(2, nodes=8)
    both = Latent(*(torch.cat([getattr(a[0], k), getattr(b[1], k)]) for k in ("positions", "features", "mask")))
    mask = torch.ones(2, 8 * model.compression, dtype=torch.bool)
    settings = Refinement(steps=5)
    together = refine_latent(model, both, mask, settings)
    alone = [refine_latent(model, x, mask[:1], settings) for x in (a[0], b[1])]
    assert not torch.allclose(together.features, both.features)  # the refinement did move them
    assert torch.allclose(together.features, torch.cat([x.features for x in alone]), atol=1e-8)
    assert torch.allclose(together.positions, torch.cat([x.positions for x in alone]), atol=1e-8)
