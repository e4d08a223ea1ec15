"""PoseBusters "mol" checks on perceived molecules, one molecule per worker task with a time limit.

PoseBusters' internal-energy check embeds and optimises a 50-conformer ensemble per molecule,
which dominates the cost (~0.2 s per QM9 molecule on one core; seconds to over a minute for
strained cages where embedding fails), so molecules are spread over the same time-limited
worker pool as bond perception. Each worker
keeps one ``PoseBusters(config="mol")`` (and so its per-InChI ensemble cache) between calls;
the energy check is told to use one thread per worker, which changes speed, not results.
A value PoseBusters could not compute (NaN) does not count as a failure, as in PoseBusters' own
summary; a molecule on which PoseBusters raises or runs out of time fails every check.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gen3d.metrics.pool import Outcome, run_here, shared_pool

CONFIG = "mol"
DEFAULT_TIMEOUT = 20.0  # seconds per molecule; a molecule that needs longer fails its checks

_BUSTER = None


@dataclass(frozen=True)
class BustResult:
    """Check name -> passed (True/False, None when PoseBusters could not compute it), or an error."""

    checks: dict[str, bool | None] = field(default_factory=dict)
    error: str = ""

    @property
    def passed(self) -> bool:
        """All checks pass (uncomputable ones skipped), and PoseBusters did not fail."""
        return not self.error and all(v is not False for v in self.checks.values())


def _column(name: str) -> str:
    """PoseBusters' column naming (lower case, spaces to underscores), made key-safe."""
    return name.lower().replace(" ", "_").replace("-", "_")


@functools.lru_cache(maxsize=1)
def check_names() -> tuple[str, ...]:
    """Names of the boolean checks of the configuration, in PoseBusters' column order."""
    from posebusters import PoseBusters

    config = PoseBusters(config=CONFIG).config
    names = []
    for module in config["modules"]:
        renames = module.get("rename_outputs", {})
        names += [_column(renames.get(out, out)) for out in module.get("chosen_binary_test_output", [])]
    return tuple(names)


def _buster():
    """This process's PoseBusters object (built once; energy check single-threaded)."""
    global _BUSTER
    if _BUSTER is None:
        from posebusters import PoseBusters

        logging.getLogger("posebusters").setLevel(logging.CRITICAL)
        _BUSTER = PoseBusters(config=CONFIG, max_workers=0)
        _BUSTER.config["modules"] = _without_silent_duplicates(_BUSTER.config["modules"])
        for module in _BUSTER.config["modules"]:
            if module.get("function") == "energy_ratio":
                module.setdefault("parameters", {})["num_threads"] = 1
    return _BUSTER


def _without_silent_duplicates(modules: list[dict]) -> list[dict]:
    """Drop modules that report nothing and repeat a later module's function and parameters.

    The shipped "mol" configuration lists the energy-ratio module twice, once without outputs;
    its results are overwritten by the second, so it only doubles the most expensive check
    (and PoseBusters caches the conformer ensemble only when embedding succeeds).
    """

    def signature(module: dict) -> tuple:
        return module.get("name"), module.get("function"), sorted(module.get("parameters", {}).items())

    keep = []
    for k, module in enumerate(modules):
        silent = not module.get("chosen_binary_test_output")
        if silent and any(signature(m) == signature(module) for m in modules[k + 1 :]):
            continue
        keep.append(module)
    return keep


def _as_bool(value) -> bool | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return bool(value)


def bust_one(mol) -> dict[str, bool | None]:
    """Run the PoseBusters checks on one RDKit molecule in this process."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = _buster().bust([mol])
    row = frame.iloc[0]
    return {_column(col): _as_bool(row[col]) for col in frame.columns}


def _from_outcome(outcome: Outcome) -> BustResult:
    if outcome.ok:
        return BustResult(outcome.value)
    if outcome.status == "timeout":
        return BustResult(error="timeout")
    return BustResult(error=outcome.message or outcome.status)


def bust_many(
    mols: Sequence,
    timeout: float | None = DEFAULT_TIMEOUT,
    workers: int | None = None,
    on_result: Callable[[int, Outcome], None] | None = None,
) -> list[BustResult]:
    """PoseBusters results for RDKit molecules, in worker processes (``workers=0``: here, no limit)."""
    if not mols:
        return []
    if workers == 0:
        return [_from_outcome(o) for o in run_here(bust_one, list(mols), on_result)]
    pool = shared_pool(bust_one, workers)
    return [_from_outcome(o) for o in pool.map(list(mols), timeout=timeout, chunk_size=1, on_result=on_result)]
