"""Teacher-forcing fragments for autoregressive molecule models (Symphony).

A molecule is grown along a random bond-graph ordering: start at a random heavy atom, then
repeatedly attach an unplaced atom bonded to a placed one. A training example is a prefix of
that ordering plus its targets: the distribution over (focus atom, element of the next atom)
over *all* valid continuations (or STOP when the molecule is complete), and for one sampled
(focus, element) the positions of every matching unplaced neighbour of the focus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen3d.data.qm9 import SYMBOL_TO_Z

ELEMENT_Z = np.array([SYMBOL_TO_Z[s] for s in ("H", "C", "N", "O", "F")])
Z_TO_INDEX = np.full(119, -1, dtype=np.int64)
Z_TO_INDEX[ELEMENT_Z] = np.arange(len(ELEMENT_Z))
# Covalent radii (Å, Cordero et al. 2008) for connectivity by distance.
COVALENT_RADIUS = np.zeros(119, dtype=np.float32)
COVALENT_RADIUS[[1, 6, 7, 8, 9]] = [0.31, 0.76, 0.71, 0.66, 0.57]
BOND_TOLERANCE = 1.25
MAX_TARGETS = 4


def bond_matrix(numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Boolean adjacency from covalent radii: bonded when d < 1.25 (r_i + r_j)."""
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    r = COVALENT_RADIUS[numbers]
    adj = d < BOND_TOLERANCE * (r[:, None] + r[None])
    np.fill_diagonal(adj, False)
    return adj


def random_ordering(numbers: np.ndarray, adj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random breadth-agnostic ordering in which every atom is bonded to an earlier one."""
    n = len(numbers)
    heavy = np.flatnonzero(numbers > 1)
    start = rng.choice(heavy) if len(heavy) else rng.integers(n)
    placed = np.zeros(n, dtype=bool)
    placed[start] = True
    order = [start]
    for _ in range(n - 1):
        frontier = adj[placed][:, ~placed].any(axis=0)
        candidates = np.flatnonzero(~placed)[frontier]
        if len(candidates) == 0:
            break
        nxt = rng.choice(candidates)
        placed[nxt] = True
        order.append(nxt)
    return np.asarray(order)


@dataclass
class Fragment:
    """One teacher-forcing example."""

    numbers: np.ndarray  # (t,) atomic numbers of the fragment
    positions: np.ndarray  # (t, 3)
    focus_target: np.ndarray  # (t, 5) probability of (focus, element)
    stop_target: float  # probability of STOP (1 when complete, else 0)
    focus: int  # sampled focus for the position target (-1 when stop)
    element: int  # element index of the new atom (-1 when stop)
    targets: np.ndarray  # (MAX_TARGETS, 3) positions of matching neighbours (padded)
    target_mask: np.ndarray  # (MAX_TARGETS,) bool


def sample_fragment(
    numbers: np.ndarray, positions: np.ndarray, rng: np.random.Generator, noise: float = 0.0
) -> Fragment | None:
    """Draw an ordering and a prefix length uniformly; None if the bond graph is disconnected."""
    adj = bond_matrix(numbers, positions)
    order = random_ordering(numbers, adj, rng)
    n = len(numbers)
    if len(order) != n:
        return None
    t = int(rng.integers(1, n + 1))
    frag, rest = order[:t], order[t:]
    pos = positions[frag] + noise * rng.standard_normal((t, 3)).astype(np.float32)
    focus_target = np.zeros((t, len(ELEMENT_Z)), dtype=np.float32)
    targets = np.zeros((MAX_TARGETS, 3), dtype=np.float32)
    mask = np.zeros(MAX_TARGETS, dtype=bool)
    if t == n:
        return Fragment(numbers[frag], pos, focus_target, 1.0, -1, -1, targets, mask)
    links = adj[np.ix_(frag, rest)]  # (t, n - t)
    fi, rj = np.nonzero(links)
    np.add.at(focus_target, (fi, Z_TO_INDEX[numbers[rest[rj]]]), 1.0)
    focus_target /= len(fi)
    pick = rng.integers(len(fi))
    focus, element = int(fi[pick]), int(Z_TO_INDEX[numbers[rest[rj[pick]]]])
    same = rest[rj[(fi == focus) & (Z_TO_INDEX[numbers[rest[rj]]] == element)]][:MAX_TARGETS]
    targets[: len(same)] = positions[same]
    mask[: len(same)] = True
    return Fragment(numbers[frag], pos, focus_target, 0.0, focus, element, targets, mask)


@dataclass
class FragmentBatch:
    """Fragments packed into flat tensors (``batch`` maps atoms to fragments)."""

    species: torch.Tensor  # (n,) element index 0..4
    positions: torch.Tensor  # (n, 3)
    batch: torch.Tensor  # (n,)
    focus_target: torch.Tensor  # (n, 5)
    stop_target: torch.Tensor  # (B,)
    focus: torch.Tensor  # (B,) global atom index of the focus (0 for stop rows)
    element: torch.Tensor  # (B,) (0 for stop rows)
    targets: torch.Tensor  # (B, MAX_TARGETS, 3)
    target_mask: torch.Tensor  # (B, MAX_TARGETS), all False for stop rows

    @property
    def num_graphs(self) -> int:
        return len(self.stop_target)

    def to(self, device: torch.device | str) -> "FragmentBatch":
        return FragmentBatch(**{k: v.to(device) for k, v in self.__dict__.items()})


def collate(fragments: list[Fragment]) -> FragmentBatch:
    """Pack fragments; each fragment is centred on its first atom's frame origin unchanged."""
    sizes = np.array([len(f.numbers) for f in fragments])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    focus = np.array([max(f.focus, 0) for f in fragments]) + offsets
    return FragmentBatch(
        species=torch.from_numpy(Z_TO_INDEX[np.concatenate([f.numbers for f in fragments])]),
        positions=torch.from_numpy(np.concatenate([f.positions for f in fragments])),
        batch=torch.from_numpy(np.repeat(np.arange(len(fragments)), sizes)),
        focus_target=torch.from_numpy(np.concatenate([f.focus_target for f in fragments])),
        stop_target=torch.tensor([f.stop_target for f in fragments], dtype=torch.float32),
        focus=torch.from_numpy(focus),
        element=torch.tensor([max(f.element, 0) for f in fragments]),
        targets=torch.from_numpy(np.stack([f.targets for f in fragments])),
        target_mask=torch.from_numpy(np.stack([f.target_mask for f in fragments])),
    )
