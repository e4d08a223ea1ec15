"""Scores for generated 3D molecules: validity, stability, uniqueness, novelty, PoseBusters, bond lengths.

``evaluate_molecules`` returns the house metrics shape ``{"n", "metrics", "per_item"}``; the
pieces it composes are pure functions in the sibling modules (``perception``, ``stability``,
``bonds``, ``reference``, ``pose_checks``). Rates are fractions in [0, 1]; a rate over an empty
set is ``None``; bond-length distances are in Å. Uniqueness and novelty compare canonical
SMILES without stereo and with implicit hydrogens, so enantiomers and conformers of one molecule
count once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

import numpy as np

from gen3d.metrics.bonds import bond_length_distances, bond_lengths, merge_lengths
from gen3d.metrics.perception import DEFAULT_TIMEOUT, Perceived, perceive, perceive_many, perceive_results, rdkit_mol
from gen3d.metrics.pose_checks import DEFAULT_TIMEOUT as POSEBUSTERS_TIMEOUT
from gen3d.metrics.pose_checks import BustResult, bust_many, check_names
from gen3d.metrics.reference import Reference, load_reference
from gen3d.metrics.stability import atom_stability
from gen3d.structures.molecule import Molecule

__all__ = [
    "evaluate_molecules", "metric_rows", "novelty", "perceive", "perceive_many", "summary_rows", "uniqueness",
]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _rate(count: int, total: int) -> float | None:
    return None if total == 0 else count / total


def uniqueness(keys: Sequence[str]) -> float | None:
    """Fraction of distinct SMILES among the given (valid) molecules' SMILES."""
    return _rate(len(set(keys)), len(keys))


def novelty(keys: Iterable[str], reference: Collection[str]) -> float | None:
    """Fraction of the distinct SMILES that are not in the reference set."""
    unique = set(keys)
    return _rate(len(unique.difference(reference)), len(unique))


def _counter(progress: Progress | None, stage: str, total: int) -> Callable[[int, object], None] | None:
    if progress is None:
        return None
    done = [0]

    def tick(_index: int, _outcome: object) -> None:
        done[0] += 1
        progress(stage, done[0], total)

    return tick


def _posebusters(
    molecules: Sequence[Molecule], perceived: Sequence[Perceived], rows: list[int],
    timeout: float | None, workers: int | None, progress: Progress | None,
) -> dict[int, BustResult]:
    """PoseBusters results for the given rows (valid molecules), keyed by row."""
    mols, keep, results = [], [], {}
    for i in rows:
        try:
            mol = rdkit_mol(molecules[i].numbers, molecules[i].positions, perceived[i].bonds, perceived[i].charges)
        except Exception as exc:  # noqa: BLE001 - a molecule we cannot rebuild fails PoseBusters
            results[i] = BustResult(error=f"rebuild: {exc}")
            continue
        mol.SetProp("_Name", molecules[i].name or f"mol{i}")
        mols.append(mol)
        keep.append(i)
    found = bust_many(mols, timeout=timeout, workers=workers, on_result=_counter(progress, "posebusters", len(mols)))
    results.update(zip(keep, found))
    return results


def evaluate_molecules(
    molecules: Sequence[Molecule],
    reference: str | Reference | None = "qm9",
    posebusters: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int | None = None,
    posebusters_timeout: float | None = POSEBUSTERS_TIMEOUT,
    progress: Progress | None = None,
) -> dict:
    """Score molecules; returns ``{"n", "metrics", "per_item"}`` (reference None: no novelty/bond lengths).

    ``timeout`` bounds bond perception per molecule and ``posebusters_timeout`` the PoseBusters
    checks per molecule (seconds); ``workers`` is the number of worker processes (None: all
    CPUs, 0: run here without time limits); ``progress(stage, done, total)`` is called as
    molecules finish.
    """
    molecules = list(molecules)
    n = len(molecules)
    ref = load_reference(reference) if isinstance(reference, str) else reference
    perceived = perceive_results(molecules, timeout, workers, on_result=_counter(progress, "bonds", n))
    stable = [atom_stability(m.numbers, m.positions) for m in molecules]
    valid = [i for i, p in enumerate(perceived) if p.valid]
    keys = [perceived[i].smiles_flat for i in valid]
    n_atoms = sum(len(s) for s in stable)

    metrics: dict[str, float | None] = {
        "validity": _rate(len(valid), n),
        "validity_any_fragments": _rate(sum(p.valid_any for p in perceived), n),
        "uniqueness": uniqueness(keys),
    }
    if ref is not None:
        metrics["novelty"] = novelty(keys, ref.smiles)
    metrics["atom_stability"] = _rate(int(sum(int(s.sum()) for s in stable)), n_atoms)
    metrics["molecule_stability"] = _rate(sum(bool(len(s) and s.all()) for s in stable), n)

    busted: dict[int, BustResult] = {}
    if posebusters:
        busted = _posebusters(molecules, perceived, valid, posebusters_timeout, workers, progress)
        results = [busted[i] for i in valid]
        metrics["posebusters_all_pass"] = _rate(sum(r.passed for r in results), len(results))
        for name in check_names():
            ok = sum(not r.error and r.checks.get(name) is not False for r in results)
            metrics[f"posebusters_{name}"] = _rate(ok, len(results))
        metrics["posebusters_errors"] = _rate(sum(bool(r.error) for r in results), len(results))

    if ref is not None:
        generated = merge_lengths(
            bond_lengths(molecules[i].numbers, molecules[i].positions, perceived[i].bonds, perceived[i].aromatic)
            for i in valid
        )
        per_type, mean = bond_length_distances(generated, ref.bond_lengths)
        metrics["bond_length_w1_mean"] = mean
        metrics.update({f"bond_length_w1_{k}": v for k, v in per_type.items()})

    per_item = [_item(i, perceived[i], stable[i], busted.get(i)) for i in range(n)]
    return {"n": n, "metrics": metrics, "per_item": per_item}


def _item(index: int, perceived: Perceived, stable: np.ndarray, bust: BustResult | None) -> dict:
    """The per-molecule record of the metrics JSON."""
    item = {
        "index": index,
        "valid": perceived.valid,
        "reason": perceived.reason,
        "smiles": perceived.smiles if perceived.valid_any else None,
        "atom_stable_fraction": float(stable.mean()) if len(stable) else 0.0,
        "stable": bool(len(stable) and stable.all()),
        "posebusters_pass": None if bust is None else bust.passed,
    }
    if bust is not None and not bust.passed:
        item["posebusters_failed"] = [k for k, v in bust.checks.items() if v is False] or [f"error: {bust.error}"]
    return item


_FORMATS = {
    "n": "{:d}",
    "bond_length_w1_": "{:.4f} Å",
    "": "{:.1%}",
}


def metric_rows(report: dict) -> list[tuple[str, str, str]]:
    """(key, label, format) for ``n`` and every metric of a report, in the JSON's order."""
    rows = [("n", "n", _FORMATS["n"])]
    for key in report.get("metrics", {}):
        fmt = _FORMATS["bond_length_w1_"] if key.startswith("bond_length_w1_") else _FORMATS[""]
        rows.append((key, key, fmt))
    return rows


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """(label, formatted value) rows for a summary table; undefined values print as "-"."""
    from gen3d.metrics.table import formatted_rows

    return formatted_rows(report, metric_rows(report))
