"""The contract every generative method implements, its conditions, and the model registry.

A :class:`Sampler` turns a trained model into a stream of structures:
``sample(num, *, seed, batch_size, device, condition=None) -> Iterator[Structure]``.
It is deterministic for a given seed, batch size and device, works in batches, and yields each
structure as soon as it is finished so callers can write it to disk straight away.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from gen3d.structures import Molecule, Protein, Trajectory
from gen3d.symmetry.detect import DEFAULT_TOLERANCE, detect_molecule
from gen3d.symmetry.sets import BreakingSet, breaking_set_for

Structure = Union[Molecule, Protein, Trajectory]


@dataclass(frozen=True)
class StartFragment:
    """Grow every sample from this partial molecule (positions in Å)."""

    molecule: Molecule


@dataclass(frozen=True)
class Length:
    """Number of residues (proteins) or atoms to generate."""

    value: int


@dataclass(frozen=True)
class StartFrame:
    """Start a dynamics jump from this structure."""

    structure: Protein | Molecule


@dataclass(frozen=True)
class SymmetryBreaking:
    """Break the symmetry of a symmetric input with an equivariant symmetry-breaking set (Xie & Smidt 2024).

    Samplers draw one element b uniformly from ``breaking_set`` per trajectory (not per step: a
    trajectory that re-drew b would be pulled towards different equivalent outcomes along the way)
    and feed it to their network as extra node irreps. ``structure`` is the symmetric input the set
    was built for (a seed fragment or start frame), when the sampler takes one.
    """

    breaking_set: BreakingSet
    structure: Molecule | None = None

    @classmethod
    def for_molecule(cls, molecule: Molecule, target: str = "C1", tol: float = DEFAULT_TOLERANCE) -> "SymmetryBreaking":
        """Detect the molecule's point group and build its set (down to ``target``) in the molecule's frame."""
        return cls(breaking_set_for(detect_molecule(molecule, tol), target), molecule)

    @property
    def group(self) -> str:
        return self.breaking_set.group

    def draw(self, generator: torch.Generator | None = None) -> np.ndarray:
        """One element b, uniformly over the set."""
        return self.breaking_set.draw(generator)


Condition = Union[StartFragment, Length, StartFrame, SymmetryBreaking]


class ConditionError(ValueError):
    """A condition the sampler does not support or cannot satisfy."""


class DeviceError(ValueError):
    """A device name that is unknown or not available on this machine."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; an unknown name or ``cuda`` without a GPU is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise DeviceError(f"unknown device {str(device)!r} (use auto, cpu or cuda)") from None
    if device.type not in ("cpu", "cuda"):
        raise DeviceError(f"unsupported device {str(device)!r} (use auto, cpu or cuda)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda was requested but no CUDA device is available")
    return device


class Sampler(ABC):
    """Batched, seeded, streaming generation from one trained model."""

    #: Condition types this sampler accepts (empty: unconditional only).
    conditions: tuple[type, ...] = ()

    @abstractmethod
    def sample(
        self,
        num: int,
        *,
        seed: int = 0,
        batch_size: int = 64,
        device: str | torch.device = "cpu",
        condition: Condition | None = None,
    ) -> Iterator[Structure]:
        """Yield ``num`` structures, each as soon as it is complete."""

    def check_condition(self, condition: Condition | None) -> None:
        """Raise :class:`ConditionError` for a condition of a kind this sampler does not accept."""
        if condition is not None and not isinstance(condition, self.conditions):
            accepted = ", ".join(c.__name__ for c in self.conditions) or "none"
            raise ConditionError(f"{type(self).__name__} does not accept {type(condition).__name__} (accepts: {accepted})")
