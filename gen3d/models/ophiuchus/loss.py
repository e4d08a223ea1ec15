"""Autoencoder losses: residue type, all-atom coordinates and local pairwise vectors (both blind to
symmetric-pair naming), backbone bond lengths and angles (as 1-2 and 1-3 distances), and clashes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gen3d.models.ophiuchus.autoencoder import Decoded
from gen3d.models.ophiuchus.features import resolve_swaps
from gen3d.models.ophiuchus.sterics import gather_residues, near_residues

CLASH_DISTANCE = 3.0  # Å; heavy atoms of residues >= 2 apart closer than this (and than in truth) clash
CLASH_NEIGHBORS = 8
WEIGHTS = {"type": 1.0, "ca": 1.0, "atoms": 1.0, "pairs": 0.5, "bonds": 1.0, "clash": 1.0}

# (atom slot in residue i, residue offset, atom slot) of backbone 1-2 and 1-3 pairs: N-CA, CA-C, C-O,
# C-N+, N-C (angle N-CA-C), CA-N+ (angle CA-C-N), C-CA+ (angle C-N-CA), O-N+ (peptide planarity).
BACKBONE_PAIRS = ((0, 0, 1), (1, 0, 2), (2, 0, 3), (2, 1, 0), (0, 0, 2), (1, 1, 0), (2, 1, 1), (3, 1, 0))


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def pairwise_vector_loss(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of all atom-to-atom vectors within each residue and to the next residue."""
    def window(x: torch.Tensor) -> torch.Tensor:  # (B, N-1, 28, C): residue i and i+1 together
        return torch.cat([x[:, :-1], x[:, 1:]], dim=2)

    p, t, m = window(pred), window(truth), window(mask[..., None].float())[..., 0]
    dp, dt = p[:, :, :, None] - p[:, :, None], t[:, :, :, None] - t[:, :, None]
    pm = m[:, :, :, None] * m[:, :, None]
    return _masked_mean(((dp - dt) ** 2).sum(-1), pm)


def backbone_loss(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of backbone bond lengths and 1-3 distances (bond angles), within and across residues."""
    losses = []
    for a, offset, b in BACKBONE_PAIRS:
        end = pred.shape[1] - offset
        pa, pb = pred[:, :end, a], pred[:, offset:, b]
        ta, tb = truth[:, :end, a], truth[:, offset:, b]
        m = mask[:, :end, a] & mask[:, offset:, b] & chain[:, :end] & chain[:, offset:]
        err = ((pa - pb).norm(dim=-1) - (ta - tb).norm(dim=-1)).abs()
        losses.append(_masked_mean(err, m))
    return torch.stack(losses).mean()


def clash_loss(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared overlap below CLASH_DISTANCE (or the true distance, if shorter) for atoms of spatially
    close residues at least two apart in sequence (neighbours by true Cα distance)."""
    N = pred.shape[1]
    k = min(CLASH_NEIGHBORS, N - 1)
    if k < 1:
        return pred.sum() * 0
    nbr, ok = near_residues(truth[:, :, 1], mask[:, :, 1], k)  # (B, N, k)
    gather = lambda x: gather_residues(x, nbr)  # noqa: E731  (B, N, k, 14, ...)
    pj, tj, mj = gather(pred), gather(truth), gather(mask)
    dp = (pred[:, :, None, :, None] - pj[:, :, :, None]).norm(dim=-1)  # (B, N, k, 14, 14)
    dt = (truth[:, :, None, :, None] - tj[:, :, :, None]).norm(dim=-1)
    m = mask[:, :, None, :, None] & mj[:, :, :, None] & ok[..., None, None]
    overlap = F.relu(torch.clamp(dt, max=CLASH_DISTANCE) - dp)
    return _masked_mean(overlap**2, m)


def autoencoder_loss(
    decoded: Decoded, aatype: torch.Tensor, coords: torch.Tensor, atom_mask: torch.Tensor, mask: torch.Tensor,
    weights: dict[str, float] | None = None,
) -> dict[str, torch.Tensor]:
    """All terms (Å, Å^2) and their weighted sum ``loss`` (``weights`` override WEIGHTS); coordinates are
    decoded with the true residue types."""
    weights = {**WEIGHTS, **(weights or {})}
    atom_mask = atom_mask & mask[..., None]
    pred = decoded.coords(aatype)
    truth, truth_mask = resolve_swaps(pred.detach(), coords, atom_mask, aatype)
    ca_err = ((decoded.ca - coords[:, :, 1]) ** 2).sum(-1)
    atom_err = ((pred - truth) ** 2).sum(-1)
    terms = {
        "type": _masked_mean(F.cross_entropy(decoded.logits.transpose(1, 2), aatype, reduction="none"), mask.float()),
        "ca": _masked_mean(ca_err, mask.float()),
        "atoms": _masked_mean(atom_err, truth_mask.float()),
        "pairs": pairwise_vector_loss(pred, truth, truth_mask),
        "bonds": backbone_loss(pred, truth, truth_mask, mask),
        "clash": clash_loss(pred, truth, truth_mask),
    }
    terms["loss"] = sum(weights[k] * v for k, v in terms.items())
    with torch.no_grad():
        terms["recovery"] = _masked_mean((decoded.logits.argmax(-1) == aatype).float(), mask.float())
    return terms
