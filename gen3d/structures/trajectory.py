"""``Trajectory``: one topology (a ``Protein`` or ``Molecule``) and a stack of frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen3d.structures.molecule import Molecule
from gen3d.structures.protein import Protein


@dataclass
class Trajectory:
    """Frames ``(T, n, 3)`` in Å of a fixed topology, with the time of each frame in ps."""

    topology: Protein | Molecule
    frames: np.ndarray
    times: np.ndarray

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.float64)
        if self.frames.ndim != 3 or self.frames.shape[1:] != (len(self.topology), 3):
            raise ValueError(f"frames must be (T, {len(self.topology)}, 3), got {self.frames.shape}")
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        if len(self.times) != len(self.frames):
            raise ValueError(f"{len(self.times)} times for {len(self.frames)} frames")

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, i: int) -> Protein | Molecule:
        """The topology with the coordinates of frame ``i``."""
        from dataclasses import replace

        return replace(self.topology, positions=self.frames[i].copy())
