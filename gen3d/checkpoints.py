"""Checkpoint folders: ``model.safetensors`` + ``card.json``; resolve, verify and load.

A checkpoint is named (a folder under the shipped ``checkpoints/``) or given as a path. Loading
checks the card's ``method`` and the sha256 of the weights before reading them, and only
safetensors are read, so a corrupt or foreign file is refused and nothing in it is executed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from gen3d.io.atomic import atomic_write_bytes, atomic_write_text

WEIGHTS, CARD = "model.safetensors", "card.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be found, verified or loaded."""


def shipped_dir() -> Path:
    """Folder of the checkpoints shipped with gen3d (``$GEN3D_CHECKPOINTS`` overrides)."""
    env = os.environ.get("GEN3D_CHECKPOINTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "checkpoints"


def resolve(name_or_path: str | os.PathLike) -> Path:
    """Folder of a checkpoint given by shipped name or by path (folder or its weights file)."""
    path = Path(name_or_path)
    if path.is_file() and path.name == WEIGHTS:
        path = path.parent
    if path.is_dir():
        return path
    named = shipped_dir() / str(name_or_path)
    if named.is_dir() and path.parts == (str(name_or_path),):
        return named
    raise CheckpointError(f"checkpoint not found: {name_or_path} (a shipped name or a folder with {CARD})")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_card(folder: Path) -> dict:
    """Parse ``card.json`` of a checkpoint folder."""
    try:
        card = json.loads((folder / CARD).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder.name}: no {CARD} in checkpoint folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{folder.name}/{CARD}: not valid JSON ({err})") from None
    if not isinstance(card, dict) or "method" not in card or "sha256" not in card:
        raise CheckpointError(f"{folder.name}/{CARD}: missing 'method' or 'sha256'")
    return card


def load_checkpoint(name_or_path: str | os.PathLike, method: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights and card of a verified checkpoint for ``method`` (e.g. ``"symphony"``)."""
    folder = resolve(name_or_path)
    card = read_card(folder)
    if card["method"] != method:
        raise CheckpointError(f"{folder.name}: checkpoint is for method '{card['method']}', not '{method}'")
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder.name}: missing {WEIGHTS}")
    if sha256_of(weights) != card["sha256"]:
        raise CheckpointError(f"{folder.name}/{WEIGHTS}: sha256 does not match the card (corrupt or altered)")
    try:
        state = load_file(str(weights))
    except Exception as err:  # safetensors raises several error types for bad headers
        raise CheckpointError(f"{folder.name}/{WEIGHTS}: not a readable safetensors file ({err})") from None
    return state, card


def save_checkpoint(folder: Path, state: dict[str, torch.Tensor], card: dict) -> dict:
    """Write weights and a card (with their sha256) atomically; returns the card written."""
    blob = save({k: v.detach().cpu().contiguous() for k, v in state.items()})
    atomic_write_bytes(folder / WEIGHTS, blob)
    card = {**card, "sha256": hashlib.sha256(blob).hexdigest()}
    atomic_write_text(folder / CARD, json.dumps(card, indent=2) + "\n")
    return card


def publish(
    src: str | os.PathLike, dest: Path, report: dict | None, command: str, extra: dict | None = None
) -> dict:
    """Copy a verified checkpoint to ``dest`` with measured metrics (and how they were measured) in its card."""
    folder = resolve(src)
    card = read_card(folder)
    state, _ = load_checkpoint(folder, card["method"])
    metrics = None if report is None else {"command": command, "n": report.get("n"), "values": report.get("metrics", {})}
    card = {**card, **(extra or {}), "metrics": metrics}
    card.pop("sha256", None)
    return save_checkpoint(Path(dest), state, card)


def load_model(name_or_path: str | os.PathLike, method: str, version: str, build) -> tuple[torch.nn.Module, dict]:
    """A verified checkpoint's network: ``build(card["config"])`` with the weights loaded strictly, and the card.

    The card must name ``version`` (architectures are frozen per version); weights that do not fit
    the config are a :class:`CheckpointError`, not a crash.
    """
    state, card = load_checkpoint(name_or_path, method)
    if card.get("version") != version:
        raise CheckpointError(f"checkpoint version {card.get('version')!r} is not supported (expected {version})")
    try:
        model = build(card.get("config", {}))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"checkpoint weights do not match its card's config: {str(err).splitlines()[0]}") from None
    return model, card
