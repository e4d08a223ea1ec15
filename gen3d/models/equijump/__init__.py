"""EquiJump: SO(3)-equivariant stochastic interpolants that jump from frame x_t to x_{t+tau}."""

from gen3d.models.equijump.config import VERSION, EquiJumpConfig
from gen3d.models.equijump.interpolant import Interpolant
from gen3d.models.equijump.network import EquiJumpNet

__all__ = ["VERSION", "EquiJumpConfig", "EquiJumpNet", "Interpolant"]
