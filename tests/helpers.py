"""Small shared fixtures for tests: tiny Symphony configs, checkpoints and a toy QM9."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.data.qm9 import QM9
from gen3d.models.symphony import Symphony, SymphonyConfig
from gen3d.models.symphony.config import VERSION

TINY = SymphonyConfig(
    irreps_hidden="8x0e + 2x1o", num_layers=1, head_hidden=16, num_components=2,
    num_radii=16, sphere_points=256, max_atoms=8,
)

# Methane, water, ethanol, hydrogen cyanide: real geometries (Å).
MOLECULES = [
    ([6, 1, 1, 1, 1], [[0, 0, 0], [0.629, 0.629, 0.629], [-0.629, -0.629, 0.629], [-0.629, 0.629, -0.629], [0.629, -0.629, -0.629]]),
    ([8, 1, 1], [[0, 0, 0.119], [0, 0.763, -0.477], [0, -0.763, -0.477]]),
    ([6, 6, 8, 1, 1, 1, 1, 1, 1], [[-0.748, -0.015, 0.024], [0.558, 0.420, -0.278], [0.629, 1.669, 0.179],
      [-1.268, 0.854, 0.451], [-1.347, -0.337, -0.842], [-0.649, -0.802, 0.778], [0.704, 0.339, -1.375],
      [1.385, -0.146, 0.160], [1.501, 1.981, -0.024]]),
    ([6, 7, 1], [[0, 0, 0], [0, 0, 1.156], [0, 0, -1.064]]),
]


def toy_qm9(copies: int = 5) -> QM9:
    """A QM9-shaped dataset of a few small molecules (all rows in every split)."""
    items = MOLECULES * copies
    numbers = np.concatenate([np.array(z, dtype=np.uint8) for z, _ in items])
    positions = np.concatenate([np.array(p, dtype=np.float32) for _, p in items])
    ptr = np.concatenate([[0], np.cumsum([len(z) for z, _ in items])])
    rows = np.arange(len(items))
    return QM9(numbers, positions, ptr, rows, np.array(["C", "O", "CCO", "C#N"] * copies), {"train": rows, "valid": rows, "test": rows})


def tiny_checkpoint(folder: Path, seed: int = 0, config: SymphonyConfig = TINY) -> Path:
    """A random-weight Symphony checkpoint folder (weights + card) for sampler and CLI tests."""
    torch.manual_seed(seed)
    model = Symphony(config)
    card = {"name": "tiny", "method": "symphony", "version": VERSION, "config": config.to_dict()}
    save_checkpoint(folder, model.state_dict(), card)
    return folder


def assert_input_error(reader, path: Path, data: bytes, line: int | None, reason: str) -> str:
    """Write ``data`` to ``path``; ``reader(path)`` must raise a one-line InputError naming file, reason and line."""
    import pytest

    from gen3d.io.errors import InputError

    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        reader(path)
    message = str(info.value)
    assert path.name in message and reason in message and "\n" not in message, message
    assert info.value.line == line, message
    return message
