"""Hyper-parameters of the Symphony model (stored verbatim in checkpoint cards)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gen3d.models.configs import known_fields

VERSION = "symphony/v1"


@dataclass(frozen=True)
class SymphonyConfig:
    """Architecture of :class:`~gen3d.models.symphony.Symphony`; defaults are the shipped model."""

    elements: tuple[int, ...] = (1, 6, 7, 8, 9)
    irreps_hidden: str = "64x0e + 16x1o"
    num_layers: int = 3
    lmax_sh: int = 1
    cutoff: float = 5.0
    num_basis: int = 8
    radial_hidden: int = 64
    avg_num_neighbors: float = 10.0
    head_hidden: int = 128
    position_lmax: int = 5
    num_components: int = 4
    num_radii: int = 64
    min_radius: float = 0.85
    max_radius: float = 1.80
    sphere_points: int = 4096
    max_atoms: int = 40

    def to_dict(self) -> dict:
        d = asdict(self)
        d["elements"] = list(self.elements)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SymphonyConfig":
        d = known_fields(cls, d, "Symphony")
        if "elements" in d:
            d["elements"] = tuple(d["elements"])
        return cls(**d)
