"""Teacher-forcing loss of Symphony: cross-entropy on (focus, element, STOP) + position NLL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from gen3d.data.fragments import FragmentBatch

if TYPE_CHECKING:
    from gen3d.models.symphony.model import Symphony


def symphony_loss(model: "Symphony", batch: FragmentBatch) -> dict[str, torch.Tensor]:
    """Mean per-fragment losses; position NLL (nats, density in Å^-3) over non-STOP fragments.

    The (focus, element) target is the empirical distribution over every valid continuation;
    the position target is every unplaced neighbour of the chosen focus with the chosen element.
    """
    B = batch.num_graphs
    x = model.features(batch.species, batch.positions, batch.batch)
    node_lp, stop_lp = model.focus_log_probs(x, batch.batch, B)
    ce_nodes = -(batch.focus_target * node_lp).sum(-1)
    focus_loss = torch.zeros(B, device=x.device).index_add_(0, batch.batch, ce_nodes) - batch.stop_target * stop_lp
    focus_loss = focus_loss.mean()

    grow = batch.target_mask.any(-1)
    focus = batch.focus[grow]
    dist = model.position_distribution(x, batch.positions, batch.batch, batch.focus, batch.element)[grow]
    rel = batch.targets[grow] - batch.positions[focus][:, None, :]
    log_p = model.log_density(dist, rel)
    mask = batch.target_mask[grow].float()
    position_loss = -((log_p * mask).sum(-1) / mask.sum(-1)).mean()
    return {"loss": focus_loss + position_loss, "focus": focus_loss.detach(), "position": position_loss.detach()}
