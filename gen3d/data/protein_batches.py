"""Random fixed-length windows of protein segments, padded into dense batches for the autoencoder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen3d.data.protein_corpus import FragmentSet


@dataclass
class ResidueBatch:
    """Dense residue batch: types (B, N), coordinates (B, N, 14, 3) Å, atom mask (B, N, 14), residue mask (B, N)."""

    aatype: torch.Tensor
    coords: torch.Tensor
    atom_mask: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> "ResidueBatch":
        return ResidueBatch(self.aatype.to(device), self.coords.to(device), self.atom_mask.to(device), self.mask.to(device))


def collate_windows(data: FragmentSet, windows: list[tuple[int, int, int]], length: int) -> ResidueBatch:
    """``(segment, start, size)`` windows padded to ``length`` residues, each centred on its Cα mean."""
    B = len(windows)
    aatype = np.zeros((B, length), dtype=np.int64)
    coords = np.zeros((B, length, 14, 3), dtype=np.float32)
    atom_mask = np.zeros((B, length, 14), dtype=bool)
    for row, (seg, start, size) in enumerate(windows):
        a = data.offsets[seg] + start
        aatype[row, :size] = data.aatype[a : a + size]
        xyz = data.coords[a : a + size]
        coords[row, :size] = xyz - xyz[:, 1].mean(0)
        atom_mask[row, :size] = data.mask[a : a + size]
    mask = np.arange(length)[None, :] < np.array([w[2] for w in windows])[:, None]
    coords *= atom_mask[..., None]
    return ResidueBatch(torch.from_numpy(aatype), torch.from_numpy(coords), torch.from_numpy(atom_mask), torch.from_numpy(mask))


def random_windows(data: FragmentSet, segments: np.ndarray, count: int, length: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """``count`` windows of at most ``length`` residues from segments drawn with probability ~ their length."""
    lengths = data.lengths[segments].astype(np.float64)
    chosen = segments[rng.choice(len(segments), size=count, p=lengths / lengths.sum())]
    out = []
    for seg in chosen:
        n = int(data.lengths[seg])
        size = min(n, length)
        out.append((int(seg), int(rng.integers(0, n - size + 1)), size))
    return out
