"""Steric refinement of latents: small moves of a latent that remove overlaps from what it decodes to.

Gradient descent on ``overlap(decode(z)) + stiffness * |z - z0|^2 / nodes`` over the coarse
positions and features, starting at ``z0``, with each structure's step norm capped at ``max_step``
(the decoder is steep in places) and its best iterate kept. Momentum SGD on a rotation-invariant norm
keeps the procedure SO(3)-equivariant (Adam's per-coordinate scaling would not); the stiffness
keeps the latent near the one given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gen3d.data.residues import SLOT_EXISTS
from gen3d.models.ophiuchus.autoencoder import Latent, Ophiuchus
from gen3d.models.ophiuchus.sterics import steric_overlap


@dataclass(frozen=True)
class Refinement:
    """Settings of :func:`refine_latent`; ``steps = 0`` turns refinement off."""

    steps: int = 20
    lr: float = 0.02
    max_step: float = 1.0  # largest step (norm over one structure's positions and features)
    momentum: float = 0.5
    stiffness: float = 0.2
    margin: float = 0.2  # Å beyond the clash thresholds, so refined contacts do not sit on the edge


def refine_latent(model: Ophiuchus, latent: Latent, mask: torch.Tensor, settings: Refinement = Refinement()) -> Latent:
    """The refined latent (detached) for residues ``mask (B, N)``; every structure of the batch is refined on its own
    (its own step cap and best iterate), so a batch gives what each structure would alone."""
    if settings.steps <= 0:
        return latent
    start_p, start_f = latent.positions.detach(), latent.features.detach()
    p, f = start_p.clone().requires_grad_(True), start_f.clone().requires_grad_(True)
    opt = torch.optim.SGD([p, f], lr=settings.lr, momentum=settings.momentum)
    nodes = latent.mask.sum(-1).clamp(min=1)
    exists_table = torch.as_tensor(SLOT_EXISTS, device=mask.device)
    best_p, best_f = start_p.clone(), start_f.clone()
    best_loss = torch.full(nodes.shape, float("inf"), dtype=start_p.dtype, device=start_p.device)
    with torch.enable_grad():
        for step in range(settings.steps + 1):
            decoded = model.decode(Latent(p, f, latent.mask), mask)
            aatype = decoded.logits.argmax(-1).detach()
            exists = exists_table[aatype] & mask[..., None]
            energy = steric_overlap(decoded.coords(aatype), exists, aatype, settings.margin)
            drift = (((p - start_p) ** 2).sum(-1) + ((f - start_f) ** 2).sum(-1)) * latent.mask
            loss = energy + settings.stiffness * drift.sum(-1) / nodes  # (B,)
            better = loss.detach() < best_loss
            best_loss = torch.where(better, loss.detach(), best_loss)
            best_p = torch.where(better[:, None, None], p.detach(), best_p)
            best_f = torch.where(better[:, None, None], f.detach(), best_f)
            if step == settings.steps:
                break
            gp, gf = torch.autograd.grad(loss.sum(), [p, f])  # not into the network's weights
            norm = (gp.pow(2).sum((1, 2)) + gf.pow(2).sum((1, 2))).sqrt()
            scale = (settings.max_step / settings.lr / norm.clamp(min=1e-12)).clamp(max=1.0)[:, None, None]
            p.grad, f.grad = gp * scale, gf * scale
            opt.step()
    return Latent(best_p, best_f * latent.mask[..., None], latent.mask)
