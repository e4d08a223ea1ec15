"""Build an OpenMM simulation of a structure under an :class:`MDProtocol`."""

from __future__ import annotations

import io
import os

import openmm
from openmm import app, unit

from gen3d.md.obc import use_native_obc2
from gen3d.md.protocol import MDProtocol
from gen3d.md.seeding import seeded_random

PLATFORMS = ("auto", "Reference", "CPU", "CUDA", "OpenCL")


class MDInputError(ValueError):
    """A structure OpenMM cannot simulate (unknown residue, unfixable atoms)."""


def fix_structure(path: str | os.PathLike):
    """(topology, positions) of a PDB with missing heavy atoms and hydrogens added (pH 7), waters and ions kept out."""
    from pdbfixer import PDBFixer

    try:
        fixer = PDBFixer(filename=os.fspath(path))
    except Exception as err:  # noqa: BLE001 - PDBFixer raises bare exceptions on bad files
        raise MDInputError(f"{os.fspath(path)}: cannot read as PDB ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})") from None
    fixer.removeHeterogens(keepWater=False)
    if fixer.topology.getNumAtoms() == 0:
        raise MDInputError(f"{os.fspath(path)}: no atoms to simulate")
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findNonstandardResidues()
    if fixer.nonstandardResidues:
        names = sorted({res.name for res, _ in fixer.nonstandardResidues})
        raise MDInputError(f"{os.fspath(path)}: non-standard residues {', '.join(names)} (replace them first)")
    fixer.findMissingAtoms()
    with seeded_random(0):
        fixer.addMissingAtoms(seed=0)
        fixer.addMissingHydrogens(7.0)
    return fixer.topology, fixer.positions


def create_system(topology: app.Topology, protocol: MDProtocol) -> openmm.System:
    """The protocol's force field, implicit solvent and constraints; OBC2 made native if asked."""
    forcefield = app.ForceField(*protocol.forcefield)
    try:
        system = forcefield.createSystem(
            topology, nonbondedMethod=getattr(app, protocol.nonbonded), constraints=getattr(app, protocol.constraints)
        )
    except ValueError as err:
        raise MDInputError(f"force field cannot parametrise the structure: {str(err).strip().splitlines()[0]}") from None
    if protocol.gb_kernel == "native":
        use_native_obc2(system)
    return system


def integrator_for(protocol: MDProtocol, seed: int) -> openmm.Integrator:
    """Langevin middle integrator with the protocol's temperature, friction and step, seeded."""
    integrator = openmm.LangevinMiddleIntegrator(
        protocol.temperature_k * unit.kelvin, protocol.friction_per_ps / unit.picosecond, protocol.timestep_fs * unit.femtosecond
    )
    integrator.setRandomNumberSeed(seed)
    return integrator


def platform_named(name: str) -> openmm.Platform:
    """An OpenMM platform; ``auto`` takes CUDA when present, else Reference (fastest for small implicit-solvent systems here)."""
    if name not in PLATFORMS:
        raise MDInputError(f"unknown platform {name!r} (use {', '.join(PLATFORMS)})")
    if name == "auto":
        available = {openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())}
        name = "CUDA" if "CUDA" in available else "Reference"
    try:
        return openmm.Platform.getPlatformByName(name)
    except Exception:  # noqa: BLE001 - OpenMMException
        raise MDInputError(f"OpenMM platform {name} is not available on this machine") from None


def simulation_for(topology, positions, protocol: MDProtocol, seed: int, platform: str, threads: int | None = None) -> app.Simulation:
    """A ready :class:`openmm.app.Simulation` at the given positions."""
    system = create_system(topology, protocol)
    chosen = platform_named(platform)
    properties = {"Threads": str(threads)} if threads and chosen.getName() == "CPU" else {}
    simulation = app.Simulation(topology, system, integrator_for(protocol, seed), chosen, properties)
    simulation.context.setPositions(positions)
    return simulation


def pdb_text(topology: app.Topology, positions) -> str:
    """PDB text of an OpenMM topology and positions."""
    handle = io.StringIO()
    app.PDBFile.writeFile(topology, positions, handle, keepIds=True)
    return handle.getvalue()
