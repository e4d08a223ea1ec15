"""EquiJump: SO(3)-equivariant stochastic interpolants that jump from frame x_t to x_{t+tau}."""

from gen3d.models.equijump.config import VERSION, EquiJumpConfig
from gen3d.models.equijump.interpolant import Interpolant
from gen3d.models.equijump.frame_net import FrameJumpNet
from gen3d.models.equijump.network import EquiJumpNet


def build_network(config: EquiJumpConfig) -> EquiJumpNet | FrameJumpNet:
    """The network a config names: the e3nn graph (default) or the canonical-frame MLP."""
    if config.backbone == "graph":
        return EquiJumpNet(config)
    if config.backbone == "frame":
        return FrameJumpNet(config)
    raise ValueError(f"unknown EquiJump backbone {config.backbone!r} (use graph or frame)")


__all__ = ["VERSION", "EquiJumpConfig", "EquiJumpNet", "FrameJumpNet", "Interpolant", "build_network"]
