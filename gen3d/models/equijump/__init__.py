"""EquiJump: SO(3)-equivariant stochastic interpolants that jump from frame x_t to x_{t+tau}."""

from gen3d.models.equijump.config import VERSION, EquiJumpConfig
from gen3d.models.equijump.interpolant import Interpolant
from gen3d.models.equijump.frame_net import FrameJumpNet
from gen3d.models.equijump.local_net import LocalFrameJumpNet
from gen3d.models.equijump.network import EquiJumpNet
from gen3d.models.equijump.sum_net import SumJumpNet


JumpNet = EquiJumpNet | FrameJumpNet | SumJumpNet | LocalFrameJumpNet


def build_network(config: EquiJumpConfig) -> JumpNet:
    """The network a config names: the e3nn graph (default), the canonical-frame MLP, their sum, or residue frames."""
    if config.backbone == "graph":
        return EquiJumpNet(config)
    if config.backbone == "frame":
        return FrameJumpNet(config)
    if config.backbone == "frame+graph":
        return SumJumpNet(config)
    if config.backbone == "local":
        return LocalFrameJumpNet(config)
    raise ValueError(f"unknown EquiJump backbone {config.backbone!r} (use graph, frame, frame+graph or local)")


__all__ = ["VERSION", "EquiJumpConfig", "EquiJumpNet", "FrameJumpNet", "Interpolant", "JumpNet", "LocalFrameJumpNet", "SumJumpNet", "build_network"]
