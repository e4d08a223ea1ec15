"""Batched optimal rotations (Kabsch) between matched, centred point sets, in torch (any device)."""

from __future__ import annotations

import torch


def proper_rotations(mobile: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) proper rotations R (det +1) minimising |mobile @ R^T - target| for centred (..., n, 3) point sets.

    The sets broadcast against each other; a degenerate set (zero determinant) gets no reflection fix.
    """
    u, _, vt = torch.linalg.svd(mobile.transpose(-1, -2) @ target)
    sign = torch.sign(torch.linalg.det(vt.transpose(-1, -2) @ u.transpose(-1, -2)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    fix = torch.diag_embed(torch.stack([torch.ones_like(sign), torch.ones_like(sign), sign], -1))
    return vt.transpose(-1, -2) @ fix @ u.transpose(-1, -2)
