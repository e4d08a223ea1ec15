"""Shared checks for model configuration dataclasses read from checkpoint cards and config files."""

from __future__ import annotations

from dataclasses import fields


def known_fields(cls: type, values: dict, label: str) -> dict:
    """``values`` as a dict after checking every key is a field of dataclass ``cls`` (ValueError naming the rest)."""
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {label} config keys: {sorted(unknown)}")
    return dict(values)
