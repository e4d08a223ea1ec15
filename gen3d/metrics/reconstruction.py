"""Reconstruction errors of an autoencoder: Cα and all-atom RMSD (Å), GDT-TS, residue-type recovery.

The decoder works in the input's frame, so errors are measured without superposition (a
superposition could only lower them); symmetric atom pairs are matched to the closer naming.
"""

from __future__ import annotations

import numpy as np
import torch

from gen3d.models.ophiuchus.features import resolve_swaps

GDT_CUTOFFS = (1.0, 2.0, 4.0, 8.0)


def gdt_ts(pred_ca: torch.Tensor, true_ca: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """GDT-TS (0-100) per structure without re-superposition: mean over 1/2/4/8 Å of the fraction within."""
    d = (pred_ca - true_ca).norm(dim=-1)
    n = mask.sum(-1).clamp(min=1)
    return 100 * torch.stack([((d <= c) & mask).sum(-1) / n for c in GDT_CUTOFFS]).mean(0)


def reconstruction_errors(decoded, batch) -> dict[str, np.ndarray]:
    """Per-structure ``ca_rmsd``, ``all_atom_rmsd`` (predicted types' atoms where they match the true type,
    else the true type's), ``gdt_ts`` and ``recovery`` for a decoded batch."""
    mask = batch.mask
    n = mask.sum(-1).clamp(min=1)
    ca_rmsd = ((((decoded.ca - batch.coords[:, :, 1]) ** 2).sum(-1) * mask).sum(-1) / n).sqrt()
    pred = decoded.coords(batch.aatype)
    atom_mask = batch.atom_mask & mask[..., None]
    truth, tmask = resolve_swaps(pred, batch.coords, atom_mask, batch.aatype)
    sq = ((pred - truth) ** 2).sum(-1) * tmask
    all_rmsd = (sq.sum((-1, -2)) / tmask.sum((-1, -2)).clamp(min=1)).sqrt()
    recovery = ((decoded.logits.argmax(-1) == batch.aatype) & mask).sum(-1) / n
    gdt = gdt_ts(decoded.ca, batch.coords[:, :, 1], mask)
    return {k: v.detach().cpu().numpy() for k, v in
            {"ca_rmsd": ca_rmsd, "all_atom_rmsd": all_rmsd, "gdt_ts": gdt, "recovery": recovery}.items()}


def compare_chains(pred, true) -> dict[str, float]:
    """Errors of one decoded chain against the input chain (same frame, same residues):
    Cα RMSD, all-atom RMSD over atoms both share (all atoms where the type is recovered, else the
    backbone and Cβ), GDT-TS, residue-type recovery."""
    from gen3d.data.residues import SLOT_EXISTS

    same = pred.aatype == true.aatype
    shared = true.mask & SLOT_EXISTS[pred.aatype]
    shared[~same, 5:] = False
    ca = np.linalg.norm(pred.coords[:, 1] - true.coords[:, 1], axis=-1)
    sq = ((pred.coords - true.coords) ** 2).sum(-1)
    alt = ((_swapped(pred, true) - true.coords) ** 2).sum(-1)
    sq = np.where(same[:, None] & (alt.sum(-1, where=shared) < sq.sum(-1, where=shared))[:, None], alt, sq)
    gdt = 100 * np.mean([(ca <= c).mean() for c in GDT_CUTOFFS])
    return {
        "ca_rmsd": float(np.sqrt((ca**2).mean())),
        "all_atom_rmsd": float(np.sqrt(sq[shared].mean())),
        "gdt_ts": float(gdt),
        "recovery": float(same.mean()),
    }


def _swapped(pred, true) -> np.ndarray:
    """Predicted coordinates with symmetric pairs exchanged (the other naming)."""
    from gen3d.models.ophiuchus.features import swap_pairs

    return swap_pairs(torch.from_numpy(pred.coords), torch.from_numpy(true.aatype)).numpy()
