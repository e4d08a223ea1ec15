"""Metrics: pure functions from generated structures to numbers (house JSON shape).

Names are imported lazily so that worker processes, which import ``gen3d.metrics.pool``, do not
pay for SciPy and PoseBusters.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evaluate_molecules": "gen3d.metrics.molecules",
    "metric_rows": "gen3d.metrics.molecules",
    "summary_rows": "gen3d.metrics.molecules",
    "uniqueness": "gen3d.metrics.molecules",
    "novelty": "gen3d.metrics.molecules",
    "Perceived": "gen3d.metrics.perception",
    "perceive": "gen3d.metrics.perception",
    "perceive_many": "gen3d.metrics.perception",
    "Reference": "gen3d.metrics.reference",
    "load_reference": "gen3d.metrics.reference",
    "atom_stability": "gen3d.metrics.stability",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gen3d.metrics' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
