"""Shared e3nn building blocks: radial bases, graphs, NequIP-style interaction blocks."""

from gen3d.nn.embedding import EquivariantEmbedding
from gen3d.nn.graph import radius_graph
from gen3d.nn.interaction import InteractionBlock
from gen3d.nn.radial import BesselBasis, PolynomialCutoff, RadialEmbedding

__all__ = [
    "BesselBasis",
    "EquivariantEmbedding",
    "InteractionBlock",
    "PolynomialCutoff",
    "RadialEmbedding",
    "radius_graph",
]
