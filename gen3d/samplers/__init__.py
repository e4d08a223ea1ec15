"""Sampler interface, conditions and the registry; one module per generative method."""

from gen3d.samplers.base import (
    Condition,
    ConditionError,
    DeviceError,
    Length,
    Sampler,
    StartFragment,
    StartFrame,
    SymmetryBreaking,
    resolve_device,
)
from gen3d.samplers.registry import REGISTRY, ModelEntry, get, register

__all__ = [
    "REGISTRY",
    "Condition",
    "ConditionError",
    "DeviceError",
    "Length",
    "ModelEntry",
    "Sampler",
    "StartFragment",
    "StartFrame",
    "SymmetryBreaking",
    "get",
    "register",
    "resolve_device",
]
