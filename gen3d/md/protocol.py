"""The simulation protocol every shipped dynamics model is trained and judged with."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MDProtocol:
    """Force field, implicit solvent and Langevin integrator settings (ps, K, fs)."""

    forcefield: tuple[str, ...] = ("amber14-all.xml", "implicit/obc2.xml")
    temperature_k: float = 300.0
    friction_per_ps: float = 1.0
    timestep_fs: float = 2.0
    constraints: str = "HBonds"
    nonbonded: str = "NoCutoff"
    integrator: str = "LangevinMiddleIntegrator"
    # "native": the OBC2 CustomGBForce of implicit/obc2.xml replaced by the identical built-in
    # GBSAOBCForce (same energies and forces; far faster on CPU). "custom": keep it as built.
    gb_kernel: str = "native"

    def to_dict(self) -> dict:
        """JSON-friendly form for cards and trajectory metadata."""
        out = asdict(self)
        out["forcefield"] = list(self.forcefield)
        return out


DEFAULT_PROTOCOL = MDProtocol()
