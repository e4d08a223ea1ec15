"""The symmetry package's bad-input error (a one-line message; the CLI maps it to exit code 2)."""

from __future__ import annotations

from gen3d.io.errors import InputError


class SymmetryError(InputError):
    """Bad symmetry input: too few points, coincident atoms, an unknown group, a target that is not a subgroup."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
