"""EquiJump: SO(3)-equivariant stochastic interpolants that jump from frame x_t to x_{t+tau}."""

from gen3d.models.equijump.config import VERSION, EquiJumpConfig
from gen3d.models.equijump.interpolant import Interpolant
from gen3d.models.equijump.frame_net import FrameJumpNet
from gen3d.models.equijump.network import EquiJumpNet
from gen3d.models.equijump.sum_net import SumJumpNet


def build_network(config: EquiJumpConfig) -> EquiJumpNet | FrameJumpNet | SumJumpNet:
    """The network a config names: the e3nn graph (default), the canonical-frame MLP, or their sum."""
    if config.backbone == "graph":
        return EquiJumpNet(config)
    if config.backbone == "frame":
        return FrameJumpNet(config)
    if config.backbone == "frame+graph":
        return SumJumpNet(config)
    raise ValueError(f"unknown EquiJump backbone {config.backbone!r} (use graph, frame or frame+graph)")


__all__ = ["VERSION", "EquiJumpConfig", "EquiJumpNet", "FrameJumpNet", "Interpolant", "SumJumpNet", "build_network"]
