"""Reference statistics of a training set (QM9): canonical SMILES for novelty, bond lengths.

Both are computed once from ``load_qm9()`` and cached under ``cache_dir()`` (a text file of
SMILES and an ``.npz`` of bond lengths), so later evaluations load them in well under a second.
The cache names carry the RDKit version because canonical SMILES may change between releases.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

import numpy as np
import rdkit
from rdkit import Chem, RDLogger

from gen3d.io.atomic import atomic_write_bytes, atomic_write_text
from gen3d.metrics.bonds import bond_lengths, merge_lengths
from gen3d.metrics.perception import perceive_arrays

CACHE_VERSION = 1
BOND_SAMPLE_SIZE = 5000
BOND_SAMPLE_SEED = 0


@dataclass(frozen=True)
class Reference:
    """Training-set statistics: stereo-free canonical SMILES and bond lengths (Å) by type."""

    name: str
    smiles: frozenset[str] = field(default_factory=frozenset)
    bond_lengths: dict[str, np.ndarray] = field(default_factory=dict)


def canonical_smiles(smiles: str) -> str | None:
    """Canonical SMILES without stereo, hydrogens implicit; None when RDKit cannot parse it."""
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=False)


def _tag() -> str:
    return f"v{CACHE_VERSION}-rdkit{rdkit.__version__}"


def qm9_train_smiles() -> frozenset[str]:
    """Canonical SMILES of the QM9 training split (cached as a text file, one per line)."""
    from gen3d.data.qm9 import cache_dir, load_qm9

    path = cache_dir() / f"qm9-train-smiles-{_tag()}.txt"
    if path.exists():
        return frozenset(path.read_text().split())
    RDLogger.DisableLog("rdApp.*")
    qm9 = load_qm9()
    found = {canonical_smiles(str(s)) for s in qm9.smiles[qm9.split["train"]]}
    found.discard(None)
    atomic_write_text(path, "\n".join(sorted(found)) + "\n")  # type: ignore[arg-type]
    return frozenset(found)  # type: ignore[arg-type]


def qm9_bond_lengths(size: int = BOND_SAMPLE_SIZE, seed: int = BOND_SAMPLE_SEED) -> dict[str, np.ndarray]:
    """Bond lengths by type of a fixed sample of QM9 training molecules, perceived like generated ones."""
    from gen3d.data.qm9 import cache_dir, load_qm9

    path = cache_dir() / f"qm9-bond-lengths-{_tag()}-n{size}-seed{seed}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            types, lengths, ptr = z["types"], z["lengths"], z["ptr"]
        return {str(t): lengths[ptr[k] : ptr[k + 1]].astype(np.float64) for k, t in enumerate(types)}
    qm9 = load_qm9()
    rows = np.random.default_rng(seed).choice(qm9.split["train"], size=min(size, len(qm9.split["train"])), replace=False)
    parts = []
    for row in np.sort(rows):
        numbers, positions = qm9.molecule(int(row))
        positions = positions.astype(np.float64)
        result = perceive_arrays((numbers, positions))
        if result.valid:
            parts.append(bond_lengths(numbers, positions, result.bonds, result.aromatic))
    merged = merge_lengths(parts)
    types = list(merged)
    ptr = np.concatenate([[0], np.cumsum([len(merged[t]) for t in types])]).astype(np.int64)
    buf = io.BytesIO()
    lengths = np.concatenate([merged[t] for t in types]) if types else np.zeros(0)
    np.savez(buf, types=np.array(types, dtype=str), lengths=lengths.astype(np.float32), ptr=ptr)
    atomic_write_bytes(path, buf.getvalue())
    return {t: merged[t].astype(np.float32).astype(np.float64) for t in types}


@functools.lru_cache(maxsize=4)
def load_reference(name: str) -> Reference:
    """The named reference set (only "qm9" for now)."""
    if name.lower() != "qm9":
        raise ValueError(f"unknown reference set '{name}' (known: qm9)")
    return Reference("qm9", qm9_train_smiles(), qm9_bond_lengths())
