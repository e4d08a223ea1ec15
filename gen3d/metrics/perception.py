"""Bond perception from 3D coordinates (RDKit's xyz2mol) with validity flags, bounded in time.

``DetermineBonds(mol, charge=0)`` is run as its two halves (connectivity, then bond orders) so
that hopeless geometries (atoms on top of each other, an atom with more neighbours than any
valence allows) are rejected before the bond-order search, whose cost can explode. Each
molecule runs in a worker process with a time limit (see ``pool``), so one bad molecule never
stalls an evaluation; a molecule that runs out of time is invalid with reason "timeout".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdDetermineBonds
from rdkit.Geometry import Point3D

from gen3d.metrics.pool import Outcome, run_here, shared_pool
from gen3d.structures.molecule import Molecule

MIN_DISTANCE = 0.5  # Å; closer pairs are not a molecule, so bond orders are not attempted
MAX_ITERATIONS = 1000  # bond-order search limit; QM9 molecules need fewer than 100
MAX_DEGREE = {1: 1, 6: 4, 7: 4, 8: 3, 9: 1}  # largest valence xyz2mol allows for H C N O F
DEFAULT_TIMEOUT = 5.0  # seconds per molecule

REASONS = (
    "ok", "fragments", "empty", "non-finite coordinates", "atoms too close", "connectivity",
    "valence exceeded", "max iterations", "bond orders", "sanitization", "timeout", "error",
)


@dataclass(frozen=True)
class Perceived:
    """Bond perception result for one molecule (picklable, no RDKit objects)."""

    valid_any: bool  # bond orders found and the molecule sanitizes (any number of fragments)
    valid: bool  # valid_any and a single connected fragment
    reason: str  # "ok" or why the molecule is not valid (see REASONS)
    bonds: np.ndarray | None = None  # (m, 3) [i, j, order] in a Kekulé form (orders 1, 2, 3)
    aromatic: np.ndarray | None = None  # (m,) bool, bond is aromatic after sanitization
    charges: np.ndarray | None = None  # (n,) formal charges
    smiles: str = ""  # canonical isomeric SMILES, hydrogens implicit (stereo from 3D)
    smiles_flat: str = ""  # canonical SMILES without stereo, hydrogens implicit
    fragments: int = 0
    detail: str = ""  # exception text, when there was one


def _min_distance(positions: np.ndarray) -> float:
    if len(positions) < 2:
        return float("inf")
    diff = positions[:, None, :] - positions[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    dist[np.diag_indices(len(positions))] = np.inf
    return float(dist.min())


def atoms_mol(numbers: np.ndarray, positions: np.ndarray):
    """An RDKit molecule with atoms and one 3D conformer, no bonds (input to bond perception)."""
    mol = Chem.RWMol()
    for z in numbers:
        atom = Chem.Atom(int(z))
        atom.SetNoImplicit(True)
        mol.AddAtom(atom)
    conf = Chem.Conformer(len(numbers))
    for i, (x, y, z) in enumerate(np.asarray(positions, dtype=np.float64)):
        conf.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    mol.AddConformer(conf, assignId=True)
    return mol


def rdkit_mol(numbers: np.ndarray, positions: np.ndarray, bonds: np.ndarray, charges: np.ndarray | None = None):
    """A sanitized RDKit molecule from perceived bonds (orders 1, 2, 3; 4 = aromatic) and charges."""
    order = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE, 4: Chem.BondType.AROMATIC}
    mol = atoms_mol(numbers, positions)
    if charges is not None:
        for atom, charge in zip(mol.GetAtoms(), charges):
            atom.SetFormalCharge(int(charge))
    for i, j, k in np.asarray(bonds, dtype=np.int64).reshape(-1, 3):
        mol.AddBond(int(i), int(j), order[int(k)])
    out = mol.GetMol()
    Chem.SanitizeMol(out)
    return out


def _bond_arrays(mol) -> tuple[np.ndarray, np.ndarray]:
    """Kekulé bond list ``(m, 3)`` and aromatic flags of a sanitized molecule."""
    aromatic = np.array([b.GetIsAromatic() for b in mol.GetBonds()], dtype=bool)
    kekule = Chem.Mol(mol)
    Chem.Kekulize(kekule, clearAromaticFlags=True)
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), int(b.GetBondTypeAsDouble())) for b in kekule.GetBonds()]
    return np.array(bonds, dtype=np.int64).reshape(-1, 3), aromatic


def perceive_arrays(item: tuple[np.ndarray, np.ndarray]) -> Perceived:
    """Perceive bonds of one ``(numbers, positions)`` pair in this process (no time limit)."""
    RDLogger.DisableLog("rdApp.*")
    numbers = np.asarray(item[0], dtype=np.int64).reshape(-1)
    positions = np.asarray(item[1], dtype=np.float64).reshape(-1, 3)
    if len(numbers) == 0:
        return Perceived(False, False, "empty")
    if not np.isfinite(positions).all():
        return Perceived(False, False, "non-finite coordinates")
    if _min_distance(positions) < MIN_DISTANCE:
        return Perceived(False, False, "atoms too close")
    mol = atoms_mol(numbers, positions)
    try:
        rdDetermineBonds.DetermineConnectivity(mol, charge=0)
    except Exception as exc:  # noqa: BLE001 - RDKit raises several types
        return Perceived(False, False, "connectivity", detail=str(exc))
    for atom in mol.GetAtoms():
        if atom.GetDegree() > MAX_DEGREE.get(atom.GetAtomicNum(), 8):
            return Perceived(False, False, "valence exceeded", detail=f"atom {atom.GetIdx()} has {atom.GetDegree()} neighbours")
    try:
        rdDetermineBonds.DetermineBondOrders(mol, charge=0, embedChiral=False, maxIterations=MAX_ITERATIONS)
    except Exception as exc:  # noqa: BLE001
        reason = "max iterations" if "Iterations" in str(exc) else "bond orders"
        return Perceived(False, False, reason, detail=str(exc))
    try:
        mol = mol.GetMol()
        Chem.SanitizeMol(mol)
        Chem.AssignStereochemistryFrom3D(mol)
        bonds, aromatic = _bond_arrays(mol)
        heavy = Chem.RemoveHs(mol)
        smiles = Chem.MolToSmiles(heavy)
        smiles_flat = Chem.MolToSmiles(heavy, isomericSmiles=False)
    except Exception as exc:  # noqa: BLE001
        return Perceived(False, False, "sanitization", detail=str(exc))
    fragments = len(Chem.GetMolFrags(mol))
    charges = np.array([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=np.int64)
    return Perceived(
        True, fragments == 1, "ok" if fragments == 1 else "fragments",
        bonds, aromatic, charges, smiles, smiles_flat, fragments,
    )


def _from_outcome(outcome: Outcome) -> Perceived:
    if outcome.ok:
        return outcome.value
    if outcome.status == "timeout":
        return Perceived(False, False, "timeout")
    return Perceived(False, False, "error", detail=outcome.message)


def perceive_results(
    molecules: Sequence[Molecule],
    timeout: float | None = DEFAULT_TIMEOUT,
    workers: int | None = None,
    on_result: Callable[[int, Outcome], None] | None = None,
) -> list[Perceived]:
    """Perceive many molecules in worker processes; ``workers=0`` runs here without a time limit."""
    items = [(m.numbers, m.positions) for m in molecules]
    if not items:
        return []
    if workers == 0:
        return [_from_outcome(o) for o in run_here(perceive_arrays, items, on_result)]
    pool = shared_pool(perceive_arrays, workers)
    chunk = max(1, min(16, len(items) // (4 * pool.size)))
    return [_from_outcome(o) for o in pool.map(items, timeout=timeout, chunk_size=chunk, on_result=on_result)]


def annotate(molecule: Molecule, result: Perceived) -> Molecule:
    """A copy of ``molecule`` with perceived bonds/charges and validity properties (for SD tags)."""
    props = dict(molecule.properties)
    props.update(valid=result.valid, reason=result.reason, smiles=result.smiles, fragments=result.fragments)
    return dataclasses.replace(
        molecule,
        bonds=result.bonds if result.valid_any else molecule.bonds,
        charges=result.charges if result.valid_any else molecule.charges,
        properties=props,
    )


def perceive_many(
    molecules: Sequence[Molecule], timeout: float | None = DEFAULT_TIMEOUT, workers: int | None = None
) -> list[Molecule]:
    """Copies of ``molecules`` with bonds, charges and ``valid``/``reason``/``smiles`` properties."""
    return [annotate(m, r) for m, r in zip(molecules, perceive_results(molecules, timeout, workers))]


def perceive(molecule: Molecule, timeout: float | None = DEFAULT_TIMEOUT) -> Molecule:
    """One molecule with bonds, charges and validity properties filled in (time-limited)."""
    return perceive_many([molecule], timeout=timeout)[0]
