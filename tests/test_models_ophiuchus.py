"""Ophiuchus autoencoder: residue encoding round trip, swap invariance, SO(3)/translation equivariance."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from e3nn import o3

from gen3d.data.protein_chains import residue_chains
from gen3d.data.residues import RESIDUE_INDEX
from gen3d.io.pdb import read_protein
from gen3d.models.ophiuchus.autoencoder import Ophiuchus
from gen3d.models.ophiuchus.features import IRREPS_IN, decode_residues, encode_residues, resolve_swaps, swap_pairs
from gen3d.models.ophiuchus.loss import autoencoder_loss
from gen3d.samplers.ophiuchus import batch_chains
from tests.protein_fixtures import TINY_AE, dssp_chain

TOL = 1e-6  # float64 equivariance tolerance (Å and feature units)
WITH_READOUT = replace(TINY_AE, type_readout_kernel=3, type_readout_width=16, type_readout_layers=2)
COARSE_READOUT = replace(WITH_READOUT, type_readout_levels=2)  # also reads both coarser decoder levels
READOUT_ENSEMBLE = replace(COARSE_READOUT, type_readout_members=2)
CONFIGS = pytest.mark.parametrize(
    "config", [TINY_AE, WITH_READOUT, COARSE_READOUT, READOUT_ENSEMBLE],
    ids=["linear-types", "type-readout", "coarse-level-readout", "readout-ensemble"],
)


def _chain(name: str = "4gcnA"):
    return residue_chains(read_protein(dssp_chain(name)))[0]


def _tensors(chain, dtype=torch.float64):
    return torch.from_numpy(chain.aatype), torch.from_numpy(chain.coords).to(dtype), torch.from_numpy(chain.mask)


def test_perfect_features_decode_to_the_input_up_to_pair_naming():
    aatype, coords, mask = _tensors(_chain())
    ca, feats = encode_residues(aatype, coords, mask)
    out = torch.cat([feats[:, :20], feats[:, 34:]], -1)  # what a perfect decoder would emit
    decoded = decode_residues(ca, out, aatype)
    truth, tmask = resolve_swaps(decoded, coords, mask, aatype)
    assert (((decoded - truth) * tmask[..., None]).norm(dim=-1)).max() < 1e-9
    has_pairs = torch.isin(aatype, torch.tensor([RESIDUE_INDEX[r] for r in ("ASP", "GLU", "PHE", "TYR", "ARG")]))
    assert has_pairs.any()


def test_encoding_is_blind_to_symmetric_pair_naming():
    aatype, coords, mask = _tensors(_chain())
    _, a = encode_residues(aatype, coords, mask)
    _, b = encode_residues(aatype, swap_pairs(coords, aatype), swap_pairs(mask[..., None].double(), aatype)[..., 0] > 0)
    assert torch.allclose(a, b, atol=1e-12)


def test_features_rotate_with_the_input():
    aatype, coords, mask = _tensors(_chain())
    rot = o3.rand_matrix(dtype=torch.float64)
    _, a = encode_residues(aatype, coords, mask)
    _, b = encode_residues(aatype, coords @ rot.T, mask)
    assert torch.allclose(a @ IRREPS_IN.D_from_matrix(rot).T, b, atol=TOL)


def _model(config=TINY_AE):
    torch.manual_seed(0)
    return Ophiuchus(config).double().eval()


def _batch(chain):
    batch = batch_chains([chain], _model().padded_length(len(chain)))
    return batch.aatype, batch.coords.double(), batch.atom_mask, batch.mask


@CONFIGS
def test_latent_and_decoded_atoms_are_so3_equivariant_and_translation_equivariant(config):
    model = _model(config)
    chain = _chain()
    aatype, coords, atom_mask, mask = _batch(chain)
    rot, shift = o3.rand_matrix(dtype=torch.float64), torch.tensor([3.0, -7.0, 11.0], dtype=torch.float64)
    moved = (coords @ rot.T + shift) * atom_mask[..., None]
    with torch.no_grad():
        la, lb = model.encode(aatype, coords, atom_mask, mask), model.encode(aatype, moved, atom_mask, mask)
        D = o3.Irreps(TINY_AE.irreps_latent).D_from_matrix(rot)
        assert torch.allclose(la.positions @ rot.T + shift, lb.positions, atol=TOL)
        assert torch.allclose(la.features @ D.T, lb.features, atol=TOL)
        da, db = model.decode(la, mask), model.decode(lb, mask)
        assert torch.allclose(da.logits, db.logits, atol=TOL)
        xa, xb = da.coords(aatype), db.coords(aatype)
        present = atom_mask & mask[..., None]
        # ring pairs are resolved up to naming, so compare after matching names
        xa_moved = (xa @ rot.T + shift) * present[..., None]
        matched, _ = resolve_swaps(xb, xa_moved, present, aatype)
        assert torch.allclose(matched * present[..., None], xb * present[..., None], atol=1e-5)


@CONFIGS
def test_padding_does_not_change_real_residues(config):
    model = _model(config)
    chain = _chain()
    n = len(chain)
    short = batch_chains([chain], model.padded_length(n))
    long = batch_chains([chain], model.padded_length(n) + 2 * model.compression)
    with torch.no_grad():
        a = model(short.aatype, short.coords.double(), short.atom_mask, short.mask)
        b = model(long.aatype, long.coords.double(), long.atom_mask, long.mask)
    assert torch.allclose(a.ca[:, :n], b.ca[:, :n], atol=TOL)
    assert torch.allclose(a.logits[:, :n], b.logits[:, :n], atol=TOL)


def test_loss_terms_are_finite_and_zero_for_a_perfect_reconstruction_of_types():
    model = _model()
    aatype, coords, atom_mask, mask = _batch(_chain())
    terms = autoencoder_loss(model(aatype, coords, atom_mask, mask), aatype, coords, atom_mask, mask)
    assert set(terms) >= {"type", "ca", "atoms", "pairs", "bonds", "clash", "loss", "recovery"}
    assert all(torch.isfinite(v) for v in terms.values())
    terms["loss"].backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
