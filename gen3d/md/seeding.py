"""Make PDBFixer and OpenMM's Modeller deterministic: both place new atoms with Python's ``random``."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator


@contextlib.contextmanager
def seeded_random(seed: int = 0) -> Iterator[None]:
    """Run a block with Python's global ``random`` seeded, restoring its state afterwards."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
