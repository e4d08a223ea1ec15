"""Residue-type readout: an invariant network over the decoder's last features, in each residue's own frame.

The decoder's linear head reads the type from scalars only. The type is also written in the
geometry it decodes (which slots hold which side-chain shape) and in its l=1 / l=2 channels, but a
linear map cannot read a direction-dependent signal invariantly. Expressing every vector and
l=2 channel in the residue's backbone frame (N and C directions from Cα) makes them invariant,
so an ordinary network can read them; short sequence convolutions add the neighbours' context.
The residue level's features are narrow (the decoder spends them on geometry); the coarser
levels' wider features, copied to the residues they decode to, can be read as well (``coarse``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from e3nn import o3
from torch import nn

from gen3d.models.ophiuchus.features import IRREPS_OUT, dual_forms

TRIU = torch.triu_indices(3, 3)  # the 6 independent entries of a symmetric 3x3 matrix


def backbone_frames(out: torch.Tensor) -> torch.Tensor:
    """Rotation ``(..., 3, 3)`` per residue (columns: axes) from the decoded N and C offsets (slots 0, 1 of the head's vectors)."""
    n, c = out[..., 20:23], out[..., 23:26]
    e1 = F.normalize(n, dim=-1, eps=1e-6)
    e2 = F.normalize(c - (c * e1).sum(-1, keepdim=True) * e1, dim=-1, eps=1e-6)
    return torch.stack([e1, e2, torch.cross(e1, e2, dim=-1)], -1)


def frame_invariants(x: torch.Tensor, irreps: o3.Irreps, frame: torch.Tensor) -> torch.Tensor:
    """``x (..., irreps.dim)`` with l=1 channels as frame coordinates and l=2 channels as the 6 entries of their
    traceless matrix in the frame; scalars kept. Invariant under rotations when ``frame`` rotates with the input."""
    parts, start = [], 0
    for mul, ir in irreps:
        block = x[..., start : start + mul * ir.dim].unflatten(-1, (mul, ir.dim))
        start += mul * ir.dim
        if ir.l == 0:
            parts.append(block.flatten(-2))
        elif ir.l == 1:
            parts.append((block @ frame).flatten(-2))
        elif ir.l == 2:
            matrix = torch.einsum("...m,mij->...ij", block, dual_forms().to(block))
            local = frame.transpose(-1, -2)[..., None, :, :] @ matrix @ frame[..., None, :, :]
            parts.append(local[..., TRIU[0], TRIU[1]].flatten(-2))
        else:
            raise ValueError(f"no frame invariants for l={ir.l}")
    return torch.cat(parts, -1)


def invariant_width(irreps: o3.Irreps) -> int:
    """Length of :func:`frame_invariants` for ``irreps``."""
    return sum(mul * {0: 1, 1: 3, 2: 6}[ir.l] for mul, ir in irreps)


class TypeReadout(nn.Module):
    """Residue-type logits ``(B, N, 20)`` from the decoder's hidden features and its head output.

    ``coarse``: ``(irreps, residues per node)`` of the coarser decoder levels also read (level 1 first).
    ``shift`` / ``scale`` standardise the invariants (set from training data by :meth:`set_standardisation`).
    """

    def __init__(
        self, irreps_hidden: str, width: int = 256, kernel: int = 3, layers: int = 3, dropout: float = 0.0,
        coarse: list[tuple[str, int]] = (),
    ) -> None:
        super().__init__()
        self.irreps_hidden = o3.Irreps(irreps_hidden)
        self.coarse = [(o3.Irreps(irreps), int(span)) for irreps, span in coarse]
        dim = invariant_width(self.irreps_hidden) + invariant_width(IRREPS_OUT)
        dim += sum(invariant_width(irreps) for irreps, _ in self.coarse)
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.inp = nn.Linear(dim, width)
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.convs = nn.ModuleList(nn.Conv1d(width, width, kernel, padding=kernel // 2) for _ in range(layers))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(width, 20)

    def invariants(self, hidden: list[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
        """Raw (unstandardised) per-residue invariants of the decoder's hidden features (one tensor per level,
        residue level first) and head output; a coarse node's features are read in each child residue's frame."""
        frame = backbone_frames(out)
        parts = [frame_invariants(hidden[0], self.irreps_hidden, frame), frame_invariants(out, IRREPS_OUT, frame)]
        for (irreps, span), h in zip(self.coarse, hidden[1:]):
            parts.append(frame_invariants(h.repeat_interleave(span, dim=1), irreps, frame))
        return torch.cat(parts, -1)

    @torch.no_grad()
    def set_standardisation(self, invariants: torch.Tensor) -> None:
        """Centre and scale the inputs from rows of raw invariants ``(R, dim)``."""
        self.shift.copy_(invariants.mean(0))
        self.scale.copy_(invariants.std(0) + 1e-3)

    def forward(self, invariants: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from raw invariants ``(B, N, dim)``; padded residues (``mask`` False) are zeroed between layers."""
        z = self.inp((invariants - self.shift) / self.scale)
        keep = mask[..., None].to(z.dtype)
        for norm, conv in zip(self.norms, self.convs):
            z = z + conv((self.drop(F.silu(norm(z))) * keep).transpose(1, 2)).transpose(1, 2)
        return self.out(F.silu(z))

    def from_decoder(self, hidden: list[torch.Tensor], out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from the decoder's hidden features (per level, residue level first) and head output."""
        return self(self.invariants(hidden, out), mask)


class ReadoutEnsemble(nn.Module):
    """Readouts of the same settings fitted apart (other seeds); their log-probabilities are averaged.

    Each member over-fits the training proteins in its own way, so the average recovers more types than any member.
    """

    def __init__(self, members: list[TypeReadout]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def from_decoder(self, hidden: list[torch.Tensor], out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean log-probabilities ``(B, N, 20)`` of the members (their inputs are computed once)."""
        invariants = self.members[0].invariants(hidden, out)
        return torch.stack([member(invariants, mask).log_softmax(-1) for member in self.members]).mean(0)
