"""Sequence coarsening and refinement: the hourglass steps of a hierarchical protein autoencoder.

Coarsening groups ``stride`` consecutive nodes into one: its position is a learned convex
combination of the children's positions (softmax over children of an invariant score), its
features a linear map of the children's features and their offsets from it. Refinement is the
mirror: each coarse node emits ``stride`` children at offsets and with features from linear maps.
Both are equivariant by construction (e3nn linear maps of irreps; offsets are l=1).
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from gen3d.nn.interaction import gate_for


def _repeat(irreps: o3.Irreps, times: int) -> o3.Irreps:
    return o3.Irreps(list(irreps) * times)


class SequenceCoarsening(nn.Module):
    """``(x, h, mask)`` of N nodes -> ``(X, H, mask)`` of N / stride nodes (N must be divisible)."""

    def __init__(self, irreps_in: str | o3.Irreps, irreps_out: str | o3.Irreps, stride: int, offset_scale: float) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.stride, self.offset_scale = stride, offset_scale
        self.score = o3.Linear(self.irreps_in, "0e")
        self.gate = gate_for(self.irreps_out)
        irreps_cat = _repeat(self.irreps_in, stride) + o3.Irreps(f"{stride}x1o")
        self.mix = o3.Linear(irreps_cat, self.gate.irreps_in)

    def forward(self, x: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, N, _ = x.shape
        S, M = self.stride, N // self.stride
        xs, hs, ms = x.view(B, M, S, 3), h.view(B, M, S, -1), mask.view(B, M, S)
        logits = self.score(hs)[..., 0].masked_fill(~ms, float("-inf"))
        coarse_mask = ms.any(-1)
        weights = torch.softmax(logits.masked_fill(~coarse_mask[..., None], 0.0), -1) * coarse_mask[..., None]
        X = (weights[..., None] * xs).sum(-2)
        rel = (xs - X[:, :, None]) * ms[..., None] / self.offset_scale
        inputs = torch.cat([(hs * ms[..., None]).flatten(-2), rel.flatten(-2)], -1)
        H = self.gate(self.mix(inputs)) * coarse_mask[..., None]
        return X, H, coarse_mask


class SequenceRefinement(nn.Module):
    """``(X, H)`` of M nodes -> ``(x, h)`` of M * stride children (offsets l=1, features linear)."""

    def __init__(self, irreps_in: str | o3.Irreps, irreps_out: str | o3.Irreps, stride: int, offset_scale: float) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.stride, self.offset_scale = stride, offset_scale
        self.gate = gate_for(self.irreps_out)
        self.split = o3.Linear(self.irreps_in, _repeat(self.gate.irreps_in, stride) + o3.Irreps(f"{stride}x1o"))

    def forward(self, X: torch.Tensor, H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, M, _ = X.shape
        S = self.stride
        out = self.split(H)
        width = self.gate.irreps_in.dim
        feats = out[..., : S * width].view(B, M, S, width)
        rel = out[..., S * width :].view(B, M, S, 3) * self.offset_scale
        x = (X[:, :, None] + rel).view(B, M * S, 3)
        h = self.gate(feats).view(B, M * S, -1)
        return x, h
