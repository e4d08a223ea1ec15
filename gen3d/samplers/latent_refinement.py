"""Steric refinement of latents: small moves of a latent that remove overlaps from what it decodes to.

Gradient descent on ``overlap(decode(z)) + stiffness * |z - z0|^2 / nodes`` over the coarse
positions and features, starting at ``z0``, with the step's global norm capped at ``max_step``
(the decoder is steep in places) and the best iterate kept. Momentum SGD on a rotation-invariant norm
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
    max_step: float = 1.0  # largest step (global norm over the batch's positions and features)
    momentum: float = 0.5
    stiffness: float = 0.2
    margin: float = 0.2  # Å beyond the clash thresholds, so refined contacts do not sit on the edge


def refine_latent(model: Ophiuchus, latent: Latent, mask: torch.Tensor, settings: Refinement = Refinement()) -> Latent:
    """The refined latent (detached) for residues ``mask (B, N)``."""
    if settings.steps <= 0:
        return latent
    start_p, start_f = latent.positions.detach(), latent.features.detach()
    p, f = start_p.clone().requires_grad_(True), start_f.clone().requires_grad_(True)
    opt = torch.optim.SGD([p, f], lr=settings.lr, momentum=settings.momentum)
    nodes = latent.mask.sum(-1).clamp(min=1)
    exists_table = torch.as_tensor(SLOT_EXISTS, device=mask.device)
    best, best_loss = (start_p, start_f), float("inf")
    with torch.enable_grad():
        for step in range(settings.steps + 1):
            decoded = model.decode(Latent(p, f, latent.mask), mask)
            aatype = decoded.logits.argmax(-1).detach()
            exists = exists_table[aatype] & mask[..., None]
            energy = steric_overlap(decoded.coords(aatype), exists, aatype, settings.margin)
            drift = (((p - start_p) ** 2).sum(-1) + ((f - start_f) ** 2).sum(-1)) * latent.mask
            loss = (energy + settings.stiffness * drift.sum(-1) / nodes).sum()
            if float(loss.detach()) < best_loss:
                best, best_loss = (p.detach().clone(), f.detach().clone()), float(loss.detach())
            if step == settings.steps:
                break
            p.grad, f.grad = torch.autograd.grad(loss, [p, f])  # not into the network's weights
            torch.nn.utils.clip_grad_norm_([p, f], settings.max_step / settings.lr)
            opt.step()
    return Latent(best[0], best[1] * latent.mask[..., None], latent.mask)
