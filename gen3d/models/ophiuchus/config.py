"""Hyper-parameters of the Ophiuchus autoencoder (the card stores them; a change of meaning is a new VERSION)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gen3d.models.configs import known_fields

VERSION = "ophiuchus/v1"


@dataclass(frozen=True)
class OphiuchusConfig:
    """Hourglass of ``levels`` coarsenings by ``stride`` (compression stride**levels) over Cα nodes."""

    irreps_hidden: str = "32x0e + 16x1o + 4x2e"  # at the residue level; multiplied by ``growth`` per level
    irreps_latent: str = "64x0e + 32x1o + 8x2e"
    growth: int = 2
    max_growth: int = 8  # channel multiplier cap for the coarsest levels
    stride: int = 2
    levels: int = 1
    neighbors: int = 16
    convs_per_level: int = 1
    num_basis: int = 8
    cutoff: float = 12.0  # Å at the residue level; level l uses cutoff * stride ** (l / 2)
    radial_hidden: int = 32
    type_readout_kernel: int = 0  # > 0: residue types from a TypeReadout with this sequence kernel, not the linear head
    type_readout_width: int = 256
    type_readout_layers: int = 3
    type_readout_levels: int = 0  # coarser decoder levels (1..n) the readout also reads, copied to their residues
    type_readout_members: int = 1  # > 1: that many readouts of these settings (fitted apart), log-probabilities averaged

    @property
    def compression(self) -> int:
        return self.stride**self.levels

    def irreps_at(self, level: int) -> str:
        """Hidden irreps of a level: channel counts grow by ``growth`` per coarsening (capped at ``max_growth``)."""
        from e3nn import o3

        factor = min(self.growth**level, self.max_growth)
        return str(o3.Irreps([(mul * factor, ir) for mul, ir in o3.Irreps(self.irreps_hidden)]))

    def cutoff_at(self, level: int) -> float:
        return self.cutoff * self.stride ** (level / 2)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "OphiuchusConfig":
        return cls(**known_fields(cls, values, "Ophiuchus"))
