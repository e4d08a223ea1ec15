"""Resumable training state: model, EMA, optimiser, step and clock, saved atomically.

Saved with ``torch.save`` and read back with ``weights_only=True`` (tensors and plain containers
only), so a resume file can never execute code. Data order is a pure function of (seed, step),
so no data-loader RNG needs saving; the torch RNG state is saved for dropout-like randomness.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from gen3d.io.atomic import atomic_write_bytes

STATE_FILE = "state.pt"


def save_state(path: Path, **state) -> None:
    """Serialise ``state`` to ``path`` through a temporary file and rename."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: Path) -> dict:
    """Load a state file written by :func:`save_state` (tensors and containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)
