"""Quality scores for generated protein structures: geometry, breaks, clashes, Ramachandran, DSSP, Rg, TM-scores.

``evaluate_proteins`` returns the house metrics shape ``{"n", "metrics", "per_item"}``; the
pieces are pure functions in the sibling modules ``protein_geometry`` (bond lengths and angles
against Engh & Huber, chain breaks, phi/psi, Rg), ``protein_ramachandran`` (favoured and allowed
regions), ``protein_structure`` (clashes, pydssp secondary structure), ``protein_similarity``
(TM-align) and ``protein_openmm`` (does it build in Amber14); ``protein_files`` reads files and
folders and scores them. Fractions are in [0, 1] and a
fraction of an empty set is ``None``. Residue-level rates (Ramachandran, bond outliers, mean
absolute deviations) pool the residues of all structures; structure-level values (breaks,
clashes, secondary structure, Rg) are means over structures. Lengths are in Å, angles in degrees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gen3d.metrics.protein_geometry import (
    IDEAL_ANGLES, IDEAL_BONDS, Backbone, backbone, backbone_measurements, breaks, deviations, expected_rg,
    outliers, radius_of_gyration,
)
from gen3d.metrics.protein_ramachandran import ramachandran
from gen3d.metrics.protein_similarity import NOVEL_BELOW, max_tm_to_reference, pairwise_tm
from gen3d.metrics.protein_structure import (
    SEVERE_OVERLAP, SS_LABELS, clashes, secondary_structure, secondary_structure_fractions,
)
from gen3d.structures.protein import Protein

__all__ = ["evaluate_proteins", "metric_rows", "score_protein", "summary_rows"]

Progress = Callable[[str, int, int], None]  # (stage, done, total)
STRUCTURED_MIN = 0.3  # a structure is "structured" when at least 30 % of its residues are helix or strand


def _rate(count: float, total: int) -> float | None:
    return None if total == 0 else float(count) / total


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(kept)) if kept else None


def score_protein(protein: Protein, openmm: bool = False) -> tuple[dict, dict]:
    """Per-structure record of the metrics JSON, and the raw residue-level arrays for pooling."""
    bb = backbone(protein)
    broken = breaks(bb)
    measured = backbone_measurements(bb)
    rama = ramachandran(bb)
    clash = clashes(protein, bb)
    ss = secondary_structure_fractions(secondary_structure(bb))
    rg = radius_of_gyration(bb)
    bad = outliers(measured)
    bond_keys, angle_keys = list(IDEAL_BONDS), list(IDEAL_ANGLES)
    raw = {
        "deviations": deviations(measured),
        "bond_outliers": sum(int(bad[k].sum()) for k in bond_keys),
        "bonds": sum(len(measured[k]) for k in bond_keys),
        "angle_outliers": sum(int(bad[k].sum()) for k in angle_keys),
        "angles": sum(len(measured[k]) for k in angle_keys),
        "favoured": rama["favoured"], "allowed": rama["allowed"], "backbone": bb,
    }
    item = {
        "name": protein.name,
        "chains": len(set(bb.chain_ids.tolist())),
        "residues": len(bb),
        "chain_breaks": int(broken.sum()),
        "has_break": bool(broken.any()),
        "clashes": clash.count,
        "clash_score": clash.score,
        "has_clash": clash.count > 0,
        "max_overlap": float(clash.overlaps.max()) if clash.count else 0.0,
        "has_severe_clash": bool(clash.count and clash.overlaps.max() > SEVERE_OVERLAP),
        "rama_favoured": _rate(rama["favoured"].sum(), len(rama["favoured"])),
        "rama_allowed": _rate(rama["allowed"].sum(), len(rama["allowed"])),
        "bond_length_outliers": _rate(raw["bond_outliers"], raw["bonds"]),
        "bond_angle_outliers": _rate(raw["angle_outliers"], raw["angles"]),
        **ss,
        "radius_of_gyration": None if np.isnan(rg) else rg,
        "rg_expected": float(expected_rg(len(bb))) if len(bb) else None,
    }
    if openmm:
        from gen3d.metrics.protein_openmm import openmm_check

        item["openmm"] = openmm_check(protein)
    return item, raw


def _tm_metrics(
    backbones: list[Backbone], reference: Sequence[Protein] | None, per_item: list[dict], progress: Progress | None,
) -> dict[str, float | None]:
    """Mean pairwise TM-score and, with a reference set, novelty (highest TM-score to it) per structure."""
    metrics = {"pairwise_tm": pairwise_tm(backbones, progress=progress)}
    if reference is not None:
        best = max_tm_to_reference(backbones, [backbone(p) for p in reference], progress=progress)
        for item, value in zip(per_item, best):
            item["max_tm_to_reference"] = float(value)
        metrics["max_tm_to_reference"] = _mean(best.tolist())
        metrics["novel"] = _rate(int((best < NOVEL_BELOW).sum()), len(best))
    return metrics


def evaluate_proteins(
    proteins: Sequence[Protein],
    reference: Sequence[Protein] | None = None,
    tm: bool = True,
    openmm: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Score protein structures; returns ``{"n", "metrics", "per_item"}`` (house metrics JSON).

    ``reference`` (structures) adds novelty: each structure's highest TM-score to the reference
    set and the fraction below 0.5. ``tm`` computes TM-scores (needs tmtools), ``openmm`` the
    slow Amber14 build check; ``progress(stage, done, total)`` is called as work finishes.
    """
    proteins = list(proteins)
    items, raws = [], []
    for k, protein in enumerate(proteins):
        item, raw = score_protein(protein, openmm=openmm)
        items.append({"index": k, **item})
        raws.append(raw)
        if progress is not None:
            progress("structures", k + 1, len(proteins))
    n = len(items)
    pooled = {k: np.concatenate([r[k] for r in raws]) if raws else np.zeros(0, bool) for k in ("favoured", "allowed")}
    metrics: dict[str, float | None] = {
        "length": _mean([i["residues"] for i in items]),
        "has_break": _rate(sum(i["has_break"] for i in items), n),
        "chain_breaks": _mean([i["chain_breaks"] for i in items]),
        "clash_score": _mean([i["clash_score"] for i in items]),
        "has_clash": _rate(sum(i["has_clash"] for i in items), n),
        "has_severe_clash": _rate(sum(i["has_severe_clash"] for i in items), n),
        "rama_favoured": _rate(pooled["favoured"].sum(), len(pooled["favoured"])),
        "rama_allowed": _rate(pooled["allowed"].sum(), len(pooled["allowed"])),
        "bond_length_outliers": _rate(sum(r["bond_outliers"] for r in raws), sum(r["bonds"] for r in raws)),
        "bond_angle_outliers": _rate(sum(r["angle_outliers"] for r in raws), sum(r["angles"] for r in raws)),
    }
    for key in (*IDEAL_BONDS, *IDEAL_ANGLES):
        values = np.concatenate([r["deviations"][key] for r in raws]) if raws else np.zeros(0)
        kind = "bond_length" if key in IDEAL_BONDS else "bond_angle"
        metrics[f"{kind}_mad_{key}"] = float(values.mean()) if len(values) else None
    for label in SS_LABELS[1:] + SS_LABELS[:1]:  # helix, strand, loop
        metrics[label] = _mean([i[label] for i in items])
    structured = [(i["helix"] or 0.0) + (i["strand"] or 0.0) >= STRUCTURED_MIN for i in items if i["helix"] is not None]
    metrics["structured"] = _rate(sum(structured), len(structured))
    metrics["radius_of_gyration"] = _mean([i["radius_of_gyration"] for i in items])
    metrics["rg_ratio"] = _mean([
        i["radius_of_gyration"] / i["rg_expected"] for i in items if i["radius_of_gyration"] is not None
    ])
    if tm:
        metrics.update(_tm_metrics([r["backbone"] for r in raws], reference, items, progress))
    if openmm:
        metrics["openmm_builds"] = _rate(sum(i["openmm"] == "" for i in items), n)
    return {"n": n, "metrics": metrics, "per_item": items}


# ----------------------------------------------------------------------------------------------- table


_FORMATS = {  # key or key prefix -> format, with the unit
    "length": "{:.1f} residues",
    "chain_breaks": "{:.2f} per structure",
    "clash_score": "{:.1f} per 1000 atoms",
    "bond_length_mad_": "{:.3f} Å",
    "bond_angle_mad_": "{:.2f}°",
    "radius_of_gyration": "{:.1f} Å",
    "rg_ratio": "{:.2f}",
    "pairwise_tm": "{:.3f}",
    "max_tm_to_reference": "{:.3f}",
}


def _format(key: str) -> str:
    """Format string of a metric: its unit, or a percentage for fractions."""
    return next((fmt for prefix, fmt in _FORMATS.items() if key.startswith(prefix)), "{:.1%}")


def metric_rows(report: dict) -> list[tuple[str, str, str]]:
    """(key, label, format) for ``n`` and every metric of a report, in the JSON's order."""
    return [("n", "n", "{:d}")] + [(key, key, _format(key)) for key in report.get("metrics", {})]


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """(label, formatted value) rows for a summary table; undefined values print as "-"."""
    from gen3d.metrics.table import formatted_rows

    return formatted_rows(report, metric_rows(report))
