"""Residues as equivariant node features at Cα, and back: slot offsets (l=1), symmetric pairs (l=1 + l=2).

A symmetric pair (a, b) (e.g. Asp OD1/OD2) is encoded as its midpoint in slot a and the l=2
signal of its difference d = x_a - x_b, which is even in d and so blind to the swap. The decoder
turns the l=2 signal back into the traceless matrix dd^T - |d|^2 I/3 and reads d (up to sign)
from its principal axis, and places a, b = midpoint ± d/2. Rings (Phe, Tyr)
resolve their second pair on the side of the first so CD1 stays bonded to CE1.
"""

from __future__ import annotations

import functools

import torch
from e3nn import o3

from gen3d.data.residues import CA, MAX_PAIRS, NUM_SLOTS, PAIR_SLOTS, SLOT_EXISTS

OTHER_SLOTS = tuple(k for k in range(NUM_SLOTS) if k != CA)  # 13 slots stored as offsets from Cα
OFFSET_SCALE = 3.0  # Å; offsets are divided by this so input vectors are O(1)
IRREPS_IN = o3.Irreps(f"{20 + NUM_SLOTS}x0e + {len(OTHER_SLOTS)}x1o + {MAX_PAIRS}x2e")
IRREPS_OUT = o3.Irreps(f"20x0e + {len(OTHER_SLOTS)}x1o + {MAX_PAIRS}x2e")


@functools.lru_cache(maxsize=None)
def _quadratic_forms() -> torch.Tensor:
    """``(5, 3, 3)`` symmetric traceless A_m with Y2_m(d) = d^T A_m d (e3nn, component normalisation)."""
    g = torch.Generator().manual_seed(0)
    d = torch.randn(64, 3, generator=g, dtype=torch.float64)
    y = o3.spherical_harmonics(2, d, normalize=False, normalization="component")  # (64, 5)
    iu = torch.triu_indices(3, 3)
    outer = (d[:, :, None] * d[:, None, :])[:, iu[0], iu[1]]  # (64, 6)
    coef = torch.linalg.lstsq(outer, y).solution  # (6, 5): y = outer @ coef
    forms = torch.zeros(5, 3, 3, dtype=torch.float64)
    for k, (i, j) in enumerate(iu.T.tolist()):
        forms[:, i, j] += coef[k] / (1 if i == j else 2)
        if i != j:
            forms[:, j, i] += coef[k] / 2
    trace = forms.diagonal(dim1=-2, dim2=-1).sum(-1)
    return forms - trace[:, None, None] * torch.eye(3, dtype=torch.float64) / 3


@functools.lru_cache(maxsize=None)
def dual_forms() -> torch.Tensor:
    """``(5, 3, 3)`` B_m with sum_m Y2_m(d) B_m = dd^T - |d|^2 I / 3."""
    forms = _quadratic_forms()
    gram = torch.einsum("mij,nij->mn", forms, forms)
    return torch.einsum("mn,nij->mij", torch.linalg.inv(gram), forms)


def pair_tables(aatype: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slots a, b of each residue's pairs ``(..., MAX_PAIRS)`` (0 where none) and their existence mask."""
    pairs = torch.as_tensor(PAIR_SLOTS, device=aatype.device)[aatype]
    has = pairs[..., 0] >= 0
    return pairs[..., 0].clamp(min=0), pairs[..., 1].clamp(min=0), has


def encode_residues(aatype: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cα positions ``(..., 3)`` and input features ``(..., IRREPS_IN.dim)`` of residues."""
    ca = coords[..., CA, :]
    offsets = (coords - ca[..., None, :]) * mask[..., None]
    a, b, has = pair_tables(aatype)
    xa, xb = _gather_slots(offsets, a), _gather_slots(offsets, b)
    both = has & _gather_slots(mask[..., None].float(), a)[..., 0].bool() & _gather_slots(mask[..., None].float(), b)[..., 0].bool()
    mid = (xa + xb) / 2
    offsets = _scatter_slots(offsets, a, torch.where(both[..., None], mid, xa))
    offsets = _scatter_slots(offsets, b, torch.where(both[..., None], torch.zeros_like(xb), xb))
    y2 = o3.spherical_harmonics(2, (xa - xb) / OFFSET_SCALE, normalize=False, normalization="component") * both[..., None]
    scalars = torch.cat([torch.nn.functional.one_hot(aatype, 20).to(coords.dtype), mask.to(coords.dtype)], -1)
    vectors = offsets[..., OTHER_SLOTS, :] / OFFSET_SCALE
    features = torch.cat([scalars, vectors.flatten(-2), y2.flatten(-2)], -1)
    return ca, features


def decode_residues(ca: torch.Tensor, out: torch.Tensor, aatype: torch.Tensor) -> torch.Tensor:
    """Heavy-atom coordinates ``(..., 14, 3)`` from Cα and output features, for the given residue types."""
    n_vec = len(OTHER_SLOTS)
    vectors = out[..., 20 : 20 + 3 * n_vec].unflatten(-1, (n_vec, 3)) * OFFSET_SCALE
    y2 = out[..., 20 + 3 * n_vec :].unflatten(-1, (MAX_PAIRS, 5))
    offsets = torch.zeros(*ca.shape[:-1], NUM_SLOTS, 3, dtype=ca.dtype, device=ca.device)
    offsets[..., OTHER_SLOTS, :] = vectors
    a, b, has = pair_tables(aatype)
    d = pair_differences(y2) * OFFSET_SCALE
    d1 = torch.where(((d[..., 1, :] * d[..., 0, :]).sum(-1, keepdim=True) < 0), -d[..., 1, :], d[..., 1, :])
    d = torch.stack([d[..., 0, :], d1], -2)
    mid = _gather_slots(offsets, a)
    xa = torch.where(has[..., None], mid + d / 2, mid)
    xb = torch.where(has[..., None], mid - d / 2, _gather_slots(offsets, b))
    offsets = _scatter_slots(_scatter_slots(offsets, a, xa), b, xb)
    exists = torch.as_tensor(SLOT_EXISTS, device=ca.device)[aatype]
    return (ca[..., None, :] + offsets) * exists[..., None]


def pair_differences(y2: torch.Tensor) -> torch.Tensor:
    """d (up to sign) from its l=2 signal ``(..., 5)``: the principal axis of the traceless matrix it encodes,
    with |d|^2 = 1.5 x its top eigenvalue (exact for dd^T - |d|^2 I / 3). The axis comes from ``eigh``
    without gradient, then one power-iteration step carries the gradient (eigh's own is singular here)."""
    matrix = torch.einsum("...m,mij->...ij", torch.nan_to_num(y2), dual_forms().to(y2))
    with torch.no_grad():
        axis = torch.linalg.eigh(matrix)[1][..., -1]
    shift = matrix.flatten(-2).norm(dim=-1).clamp(min=1e-8)[..., None, None]
    shifted = matrix + shift * torch.eye(3, dtype=y2.dtype, device=y2.device)
    axis = torch.nn.functional.normalize((shifted @ axis[..., None])[..., 0], dim=-1)
    top = (axis[..., None, :] @ matrix @ axis[..., :, None])[..., 0, 0]
    return axis * (1.5 * top.clamp(min=0) + 1e-12).sqrt()[..., None]


def _gather_slots(x: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """``x[..., slots[..., p], :]`` for slot indices ``(..., P)``."""
    return torch.gather(x, -2, slots[..., None].expand(*slots.shape, x.shape[-1]))


def _scatter_slots(x: torch.Tensor, slots: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Copy of ``x`` with ``values (..., P, C)`` written at ``slots``; slot 0 is never a pair slot, so clamped
    entries (index 0) are written back unchanged."""
    keep = slots > 0
    current = _gather_slots(x, slots)
    return x.scatter(-2, slots[..., None].expand_as(values), torch.where(keep[..., None], values, current))


def swap_pairs(coords: torch.Tensor, aatype: torch.Tensor) -> torch.Tensor:
    """``coords (..., 14, C)`` with every symmetric pair of each residue exchanged (rings: both pairs together)."""
    a, b, has = pair_tables(aatype)
    xa, xb = _gather_slots(coords, a), _gather_slots(coords, b)
    swapped = _scatter_slots(coords, a, torch.where(has[..., None], xb, xa))
    return _scatter_slots(swapped, b, torch.where(has[..., None], xa, xb))


def resolve_swaps(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, aatype: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Truth coordinates and mask with each residue's pairs named as in ``pred`` (the closer of the two namings)."""
    alt, alt_mask = swap_pairs(truth, aatype), swap_pairs(mask[..., None].to(truth.dtype), aatype)[..., 0] > 0
    cost = (((pred - truth) ** 2).sum(-1) * mask).sum(-1)
    alt_cost = (((pred - alt) ** 2).sum(-1) * alt_mask).sum(-1)
    use = (alt_cost < cost)[..., None]
    return torch.where(use[..., None], alt, truth), torch.where(use, alt_mask, mask)
