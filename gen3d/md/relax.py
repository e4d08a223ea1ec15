"""Amber relaxation of generated proteins: restrained energy minimisation.

The clean-up AlphaFold applies to its predictions. Hydrogens are added, the structure is
parameterised with Amber14 (in vacuum by default, as AlphaFold's relax; OBC2 implicit water as an
option, about 6x slower), heavy atoms are held to where the model put them by harmonic
restraints, and the energy is minimised. Peptide bonds come from the
residue order (OpenMM bonds consecutive residues of a chain), so minimisation closes small gaps
between them and pushes overlapping atoms apart; restraints keep the fold the model drew. Heavy
atoms are returned in the input's order (plus a C-terminal OXT, which Amber's templates need).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, replace

import numpy as np

from gen3d.md.obc import use_native_obc2
from gen3d.md.seeding import seeded_random
from gen3d.structures.protein import Protein

FORCE_FIELD = ("amber14-all.xml", "implicit/obc2.xml")
KCAL_PER_A2 = 418.4  # kJ/mol/nm^2 in one kcal/mol/Å^2
RELEASE_NEIGHBOURS = 2  # residues either side of a violating one that are freed with it


class RelaxError(ValueError):
    """A structure Amber cannot parameterise (unknown residue, missing heavy atoms)."""


@dataclass(frozen=True)
class Relaxation:
    """Settings of :func:`relax_protein`: restraint on heavy atoms (kcal/mol/Å²), minimiser budget."""

    restraint: float = 1.0
    max_iterations: int = 1000
    rounds: int = 3  # minimisations; after each, residues still clashing or broken lose their restraints
    tolerance: float = 10.0  # kJ/mol/nm, the minimiser's RMS force target
    solvent: str = "vacuum"  # or "obc2" (implicit water)


@functools.lru_cache(maxsize=2)
def _force_field(solvent: str):
    from openmm import app

    if solvent not in ("obc2", "vacuum"):
        raise RelaxError(f"unknown solvent {solvent!r} (use obc2 or vacuum)")
    return app.ForceField(*(FORCE_FIELD if solvent == "obc2" else FORCE_FIELD[:1]))


def _platform():
    """OpenMM's Reference platform: single-threaded and deterministic (the CPU platform's threaded sums are not)."""
    import openmm

    return openmm.Platform.getPlatformByName("Reference")


def _restraints(positions_nm: np.ndarray, atoms: list[int], k: float):
    """Harmonic wells (k in kJ/mol/nm²) holding ``atoms`` at their starting ``positions_nm``."""
    import openmm

    force = openmm.CustomExternalForce("0.5*k*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
    for name in ("k", "x0", "y0", "z0"):
        force.addPerParticleParameter(name)
    for i in atoms:
        force.addParticle(i, [k, *positions_nm[i].tolist()])
    return force


def _violating_residues(protein: Protein) -> np.ndarray:
    """Residue indices (0-based, in order) with a clashing heavy atom or a chain break on either side."""
    from gen3d.metrics.protein_geometry import atom_residues, backbone, breaks
    from gen3d.metrics.protein_structure import clashes

    bb = backbone(protein)
    res = atom_residues(protein)
    bad = set(res[clashes(protein, bb).pairs.reshape(-1)].tolist())
    broken = np.flatnonzero(breaks(bb))
    bad |= set(bb.residues[broken].tolist()) | set(bb.residues[broken + 1].tolist())
    return np.array(sorted(bad), dtype=np.int64)


def _release(force, context, atoms: list, residues: np.ndarray) -> int:
    """Drop the restraints of every atom of ``residues`` and their sequence neighbours; the number dropped."""
    free = {int(r) + d for r in residues for d in range(-RELEASE_NEIGHBOURS, RELEASE_NEIGHBOURS + 1)}
    dropped = 0
    for n in range(force.getNumParticles()):
        i, (k, *x0) = force.getParticleParameters(n)
        if k and atoms[i].residue.index in free:
            force.setParticleParameters(n, i, [0.0, *x0])
            dropped += 1
    if dropped:
        force.updateParametersInContext(context)
    return dropped


def _topology(protein: Protein):
    """OpenMM (topology, positions) of ``protein`` with hydrogens added, read through PDB text in memory."""
    from openmm import app

    from gen3d.io.pdb import _pdb_text
    from gen3d.structures.biopython import protein_to_structure

    pdb = app.PDBFile(io.StringIO(_pdb_text("relax", protein_to_structure(protein))))
    modeller = app.Modeller(pdb.topology, pdb.positions)
    with seeded_random(0):  # Modeller starts hydrogens at random positions (Python's random) and minimises them
        modeller.addHydrogens(_force_field("obc2"), platform=_platform())  # on a platform we choose: same input, same output
    return modeller.topology, modeller.positions


def relax_protein(protein: Protein, settings: Relaxation = Relaxation()) -> Protein:
    """The minimised heavy-atom structure of ``protein``'s amino acids (``RelaxError`` if Amber cannot build it).

    A structure still clashing or broken after every round (two strands locked through each other) is
    relaxed once more from the start with restraints a tenth as stiff; the one with fewer violating residues wins.
    """
    from gen3d.metrics.protein_openmm import amino_acids_with_oxt, missing_heavy_atoms

    protein = amino_acids_with_oxt(protein)
    missing = missing_heavy_atoms(protein) if len(protein) else "no amino-acid residues"
    if missing:
        raise RelaxError(f"cannot relax {protein.name or 'protein'}: {missing}")
    relaxed, violations = _minimise(protein, settings)
    if violations and settings.restraint > 0:
        softer, fewer = _minimise(protein, replace(settings, restraint=settings.restraint / 10))
        if fewer < violations:
            return softer
    return relaxed


def _minimise(protein: Protein, settings: Relaxation) -> tuple[Protein, int]:
    """Restrained minimisation rounds of a complete protein; (structure, residues still violating)."""
    import openmm
    from openmm import app, unit

    try:
        topology, positions = _topology(protein)
        system = _force_field(settings.solvent).createSystem(topology, nonbondedMethod=app.NoCutoff, constraints=None)
    except Exception as err:  # noqa: BLE001 - OpenMM raises plain Exceptions for unknown templates
        raise RelaxError(f"cannot relax {protein.name or 'protein'}: {' '.join(str(err).split())[:200]}") from None
    use_native_obc2(system)
    start = np.asarray(positions.value_in_unit(unit.nanometer))
    atoms = list(topology.atoms())
    heavy = [a.index for a in atoms if a.element is not None and a.element.symbol != "H"]
    restraints = _restraints(start, heavy, settings.restraint * KCAL_PER_A2)
    system.addForce(restraints)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), _platform())
    context.setPositions(positions)
    for round_ in range(max(settings.rounds, 1)):
        openmm.LocalEnergyMinimizer.minimize(context, settings.tolerance, settings.max_iterations)
        final = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.angstrom)
        relaxed = _heavy_in_input_order(protein, atoms, np.asarray(final))
        violating = _violating_residues(relaxed)
        if round_ + 1 == settings.rounds or not _release(restraints, context, atoms, violating):
            break
    return relaxed, len(violating)


def _heavy_in_input_order(protein: Protein, atoms: list, positions: np.ndarray) -> Protein:
    """``protein`` with each heavy atom moved to its minimised position (matched by residue index and name)."""
    from gen3d.metrics.protein_geometry import atom_residues

    where = {(a.residue.index, a.name): a.index for a in atoms}
    index = np.array([where[(int(r), str(n))] for r, n in zip(atom_residues(protein), protein.atom_names)])
    return Protein(
        protein.chain_ids, protein.residue_numbers, protein.insertion_codes, protein.residue_names, protein.atom_names,
        protein.elements, positions[index].astype(protein.positions.dtype), protein.b_factors, protein.name,
    )
