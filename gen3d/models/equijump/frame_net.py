"""The canonical-frame EquiJump network: rotate the system into a stored reference frame, predict there.

For one fixed molecule (a topology with ``atoms`` heavy atoms in a fixed order) the current frame
x0 fixes a rotation: the proper Kabsch rotation R(x0) that best superposes it onto a reference
structure kept with the weights. Inputs are expressed in that frame, a plain MLP predicts the
endpoint offset and the denoiser there, and the outputs are rotated back. Since R(Q x0) = R(x0) Q^T
for every rotation Q, the outputs rotate with the system: the network is exactly SO(3)-equivariant
(not O(3): R is always proper, so a mirror image is a different input, as for a chiral molecule).
Translations cancel because everything is taken relative to the centroid of x0. It learns a single
molecule's jump kernel much faster than the graph network (see the ala2 card), but it does not
transfer between topologies.
"""

from __future__ import annotations

import torch
from torch import nn

from gen3d.models.equijump.config import EquiJumpConfig
from gen3d.models.equijump.network import time_features
from gen3d.nn.superpose import proper_rotations


class FrameJumpNet(nn.Module):
    """(tokens, residue index, x0, xs, s) -> (x1 - xs or b, eta) for one fixed molecule, SO(3)-equivariant."""

    def __init__(self, config: EquiJumpConfig) -> None:
        super().__init__()
        if config.atoms < 3:
            raise ValueError("the frame backbone needs the number of atoms of its molecule (config.atoms >= 3)")
        self.config = config
        n, width = config.atoms, config.frame_hidden
        self.register_buffer("reference", torch.zeros(n, 3))
        layers: list[nn.Module] = [nn.Linear(6 * n + 2 * config.time_frequencies, width), nn.SiLU()]
        for _ in range(config.frame_layers - 1):
            layers += [nn.Linear(width, width), nn.SiLU()]
        layers.append(nn.Linear(width, 6 * n))
        self.mlp = nn.Sequential(*layers)

    def set_reference(self, frame: torch.Tensor) -> None:
        """Store the frame that defines the canonical orientation (any structure of the molecule)."""
        self.reference.copy_(frame - frame.mean(0))

    def context(self, x0: torch.Tensor, batch: torch.Tensor, tokens: torch.Tensor | None = None,
                residue_index: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, 3) world-to-frame rotations of the current frames (fixed for a whole jump, so computed once)."""
        n = self.config.atoms
        if x0.shape[0] % n:
            raise ValueError(f"the frame backbone models {n} atoms per system, got {x0.shape[0]} rows")
        x0 = x0.view(-1, n, 3)
        return proper_rotations(x0 - x0.mean(1, keepdim=True), self.reference.to(x0.dtype))

    def forward(
        self, tokens: torch.Tensor, residue_index: torch.Tensor, x0: torch.Tensor, xs: torch.Tensor, s: torch.Tensor,
        batch: torch.Tensor, rotations: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``s``: one time per system (B,); systems are consecutive blocks of ``atoms`` rows; returns two (n, 3)."""
        n, B = self.config.atoms, len(s)
        if x0.shape[0] != B * n:
            raise ValueError(f"the frame backbone models {n} atoms per system, got {x0.shape[0]} rows for {B} systems")
        rot = self.context(x0, batch) if rotations is None else rotations  # (B, 3, 3), world -> frame
        x0, xs = x0.view(B, n, 3), xs.view(B, n, 3)
        centre = x0.mean(1, keepdim=True)
        a, b = (x0 - centre) @ rot.transpose(1, 2), (xs - centre) @ rot.transpose(1, 2)
        k = self.config.frame_input_scale
        out = self.mlp(torch.cat([k * a.flatten(1), k * b.flatten(1), time_features(s, self.config.time_frequencies)], -1))
        out = out.view(B, 2, n, 3) @ rot[:, None]  # frame -> world
        return out[:, 0].reshape(-1, 3), out[:, 1].reshape(-1, 3)
