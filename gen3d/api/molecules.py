"""Molecule tasks of the Python API: sample with Symphony, score a file, train."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from gen3d.samplers.base import resolve_device
from gen3d.samplers.symphony import DEFAULT_POSITION_TEMPERATURE, DEFAULT_TEMPERATURE, DEFAULT_VALENCE_MASK, SymphonySampler

__all__ = ["DEFAULT_POSITION_TEMPERATURE", "DEFAULT_TEMPERATURE", "DEFAULT_VALENCE_MASK", "evaluate_file", "report_rows", "sample_molecules", "train_molecules"]


def sample_molecules(
    out: str | Path,
    num: int,
    *,
    checkpoint: str = "symphony-qm9",
    seed: int = 0,
    batch_size: int = 64,
    device: str = "auto",
    temperature: float = DEFAULT_TEMPERATURE,
    valence_mask: bool = DEFAULT_VALENCE_MASK,
    position_temperature: float = DEFAULT_POSITION_TEMPERATURE,
    evaluate: bool = True,
    posebusters: bool = True,
    on_molecule: Callable[[], None] | None = None,
    symmetry_seed: str | Path | None = None,
) -> dict:
    """Generate ``num`` molecules into ``out`` (.sdf or .xyz), perceiving bonds and validity flags.

    ``symmetry_seed``: grow every molecule from the first molecule of this file, a symmetric seed
    whose equivalent first placements are chosen by a symmetry-breaking set (see
    :mod:`gen3d.samplers.symphony_symmetry`).

    Molecules are written as they are produced, to a temporary file renamed into place at the
    end (on Ctrl-C, the complete records written so far; on an error, nothing).
    Returns ``{"seconds": sampling wall time, "report": metrics dict or None}``.
    """
    from gen3d.io.molecules import MoleculeWriter
    from gen3d.metrics.molecules import evaluate_molecules, perceive_many

    sampler_class, condition = SymphonySampler, None
    if symmetry_seed is not None:
        sampler_class, condition = _symmetric_seed(symmetry_seed)
    sampler = sampler_class.from_checkpoint(
        checkpoint, temperature=temperature, valence_mask=valence_mask, position_temperature=position_temperature
    )
    dev = resolve_device(device)
    molecules, pending = [], []
    start = time.perf_counter()
    writer = MoleculeWriter(out)

    def flush() -> None:
        for mol in perceive_many(pending):
            writer.write(mol)
            molecules.append(mol)
        pending.clear()

    try:
        for mol in sampler.sample(num, seed=seed, batch_size=batch_size, device=dev, condition=condition):
            pending.append(mol)
            if on_molecule:
                on_molecule()
            if len(pending) >= min(batch_size, 256):
                flush()
        flush()
    except KeyboardInterrupt:
        writer.close()  # keep the complete records written so far; the file is never half-written
        raise
    except BaseException:
        writer.abort()
        raise
    writer.close()
    seconds = time.perf_counter() - start
    report = evaluate_molecules(molecules, posebusters=posebusters) if evaluate else None
    return {"seconds": seconds, "report": report}


def _symmetric_seed(path: str | Path) -> tuple[type, object]:
    """Sampler class and :class:`SymmetryBreaking` condition for growing from the seed molecule in ``path``."""
    from gen3d.io.errors import InputError
    from gen3d.io.molecules import read_molecules
    from gen3d.samplers.base import SymmetryBreaking
    from gen3d.samplers.symphony_symmetry import SymmetricSeedSampler

    mols = read_molecules(path)
    if not mols:
        raise InputError(path, "no molecule to use as a symmetric seed")
    return SymmetricSeedSampler, SymmetryBreaking.for_molecule(mols[0])


def evaluate_file(path: str | Path, *, reference: str = "qm9", posebusters: bool = True, timeout: float = 5.0) -> dict:
    """Score the molecules of an SDF/XYZ file (metrics JSON shape of the house plan)."""
    from gen3d.io.errors import InputError
    from gen3d.io.molecules import read_molecules
    from gen3d.metrics.molecules import evaluate_molecules

    if reference not in ("qm9", "none"):
        raise InputError(f"--reference must be 'qm9' or 'none', not '{reference}'")
    molecules = read_molecules(path)
    return evaluate_molecules(
        molecules, reference=None if reference == "none" else reference, posebusters=posebusters, timeout=timeout
    )


def report_rows(report: dict) -> list[tuple[str, str]]:
    """(label, formatted value) rows for a summary table, same keys as the JSON metrics."""
    from gen3d.metrics.molecules import summary_rows

    return summary_rows(report)


def train_molecules(
    config: str | Path, overrides: list[str], out: str | Path, *, device: str = "auto", echo=print, on_step=None
) -> dict:
    """Train or resume Symphony from a TOML config; returns the final step/time/loss info."""
    from gen3d.train.config import load_config
    from gen3d.train.symphony import train_symphony

    dev: torch.device = resolve_device(device)
    return train_symphony(load_config(Path(config), overrides), Path(out), dev, echo=echo, on_step=on_step)
