"""The frame + graph EquiJump network: the sum of the canonical-frame MLP and the e3nn graph network.

The frame MLP sees the whole molecule at once (global motions, one molecule only); the graph network
sees neighbourhoods (bond geometry, which an MLP over many atoms learns slowly). Both are
SO(3)-equivariant, so their sum is too.
"""

from __future__ import annotations

import torch
from torch import nn

from gen3d.models.equijump.config import EquiJumpConfig
from gen3d.models.equijump.frame_net import FrameJumpNet
from gen3d.models.equijump.network import EquiJumpNet


class SumJumpNet(nn.Module):
    """(tokens, residue index, x0, xs, s) -> frame(...) + graph(...), each output (n, 3)."""

    def __init__(self, config: EquiJumpConfig) -> None:
        super().__init__()
        self.config = config
        self.frame = FrameJumpNet(config)
        self.graph = EquiJumpNet(config)

    def set_reference(self, frame: torch.Tensor) -> None:
        self.frame.set_reference(frame)

    def context(self, x0: torch.Tensor, batch: torch.Tensor, tokens: torch.Tensor | None = None,
                residue_index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(neighbour pairs, rotations), both fixed for a whole jump."""
        return self.graph.context(x0, batch), self.frame.context(x0, batch)

    def forward(
        self, tokens: torch.Tensor, residue_index: torch.Tensor, x0: torch.Tensor, xs: torch.Tensor, s: torch.Tensor,
        batch: torch.Tensor, context: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        edges, rotations = (None, None) if context is None else context
        a, b = self.frame(tokens, residue_index, x0, xs, s, batch, rotations)
        c, d = self.graph(tokens, residue_index, x0, xs, s, batch, edges)
        return a + c, b + d
