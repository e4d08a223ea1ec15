"""Swap the OBC2 ``CustomGBForce`` that ``implicit/obc2.xml`` builds for the built-in ``GBSAOBCForce``.

The custom force holds per-particle (charge, or, sr) with or = radius - 0.009 nm and
sr = scale * or; the built-in force takes (charge, radius, scale) and computes the same OBC2
energy with its ACE surface term, without recompiling expressions every step.
"""

from __future__ import annotations

import openmm

OFFSET_NM = 0.009


def _obc2_force(system: openmm.System) -> tuple[int, openmm.CustomGBForce] | None:
    for index in range(system.getNumForces()):
        force = system.getForce(index)
        if isinstance(force, openmm.CustomGBForce) and force.getNumPerParticleParameters() == 3:
            names = [force.getPerParticleParameterName(i) for i in range(3)]
            if names == ["charge", "or", "sr"]:
                return index, force
    return None


def _global(force: openmm.CustomGBForce, name: str, default: float) -> float:
    for i in range(force.getNumGlobalParameters()):
        if force.getGlobalParameterName(i) == name:
            return force.getGlobalParameterDefaultValue(i)
    return default


def use_native_obc2(system: openmm.System) -> bool:
    """Replace the OBC2 custom force in place; False when the system has none."""
    found = _obc2_force(system)
    if found is None:
        return False
    index, custom = found
    native = openmm.GBSAOBCForce()
    native.setSoluteDielectric(_global(custom, "soluteDielectric", 1.0))
    native.setSolventDielectric(_global(custom, "solventDielectric", 78.5))
    native.setNonbondedMethod(openmm.GBSAOBCForce.NoCutoff)
    for i in range(custom.getNumParticles()):
        charge, offset_radius, scaled = custom.getParticleParameters(i)
        native.addParticle(charge, offset_radius + OFFSET_NM, scaled / offset_radius)
    native.setForceGroup(custom.getForceGroup())
    system.removeForce(index)
    system.addForce(native)
    return True
