"""Hyper-parameters of an EquiJump model (stored in the card; a change of meaning is a new VERSION)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gen3d.models.configs import known_fields

VERSION = "equijump/v1"


@dataclass(frozen=True)
class EquiJumpConfig:
    """Network over heavy atoms plus the interpolant it was trained with (Å, ps)."""

    vocabulary: tuple[str, ...] = field(default_factory=tuple)  # "RES:ATOM" tokens, index = embedding row
    backbone: str = "graph"  # "graph": e3nn message passing (any topology); "frame": MLP in a canonical frame (one molecule); "frame+graph": their sum; "local": invariant messages in residue frames (proteins)
    atoms: int = 0  # heavy atoms of the molecule (frame backbone; set by training)
    frame_hidden: int = 512  # frame backbone: MLP width
    frame_layers: int = 3  # frame backbone: hidden layers
    frame_input_scale: float = 1.0  # frame backbone: coordinates (Å) are multiplied by this before the MLP
    local_hidden: int = 96  # local backbone: width of the invariant messages
    local_layers: int = 3  # local backbone: message-passing rounds
    local_cutoff: float = 6.0  # local backbone: Å, neighbours in the current frame
    irreps_hidden: str = "64x0e + 24x1o + 8x2e"
    layers: int = 4
    cutoff: float = 10.0  # Å, neighbours in the current frame
    num_basis: int = 16
    radial_hidden: int = 64
    max_separation: int = 3  # residue separations beyond +-this share one edge class
    time_frequencies: int = 8
    chirality: int = 0  # pseudoscalar (triple-product) features of the current frame; > 0 makes the net SO(3)- but not O(3)-equivariant
    cross_products: bool = False  # pseudovector (d x u) messages; like chirality, SO(3)- but not O(3)-equivariant
    message_scalars: int = 0  # > 0: message weights also see this many scalars of sender and receiver (EGNN-style)
    tau_ps: float = 100.0
    parameterization: str = "endpoint"  # "endpoint": predict x1 (drift derived, last step lands on it); "drift": predict b
    interpolant: str = "bridge"  # "bridge": two-sided from the current frame; "gaussian": one-sided baseline
    gamma_scale: float = 2.0  # gamma(s) = gamma_scale * s * (1 - s), Å
    base_noise: float = 0.3  # Å of Gaussian jitter on the start (bridge), the only source of ODE stochasticity
    prior_scale: float = 3.0  # Å, std of the Gaussian start (gaussian)
    condition_noise: float = 0.05  # Å of noise on the current frame in training, so rollouts recover from their own errors
    late_fraction: float = 0.5  # share of training times drawn as s = 1 - u^2 (dense near s = 1, where geometry is fixed)
    bond_weight: float = 10.0  # weight of the bonded-distance loss on predicted endpoints (times s)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["vocabulary"] = list(self.vocabulary)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "EquiJumpConfig":
        values = known_fields(cls, values, "EquiJump")
        if "vocabulary" in values:
            values["vocabulary"] = tuple(values["vocabulary"])
        return cls(**values)
