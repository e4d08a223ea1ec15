"""Start a training run from a published checkpoint's weights: fine-tuning on more data costs
a fraction of training from scratch, and the card says which weights it started from."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gen3d.checkpoints import load_checkpoint
from gen3d.train.config import ConfigError
from gen3d.train.state import STATE_FILE


def warm_start(model: torch.nn.Module, name_or_path: str, method: str, config: dict) -> dict:
    """Load a verified checkpoint's weights into ``model``; its model config must equal ``config``.

    Returns the provenance recorded in the new card (name, sha256, steps of the start).
    """
    state, card = load_checkpoint(name_or_path, method)
    theirs = card.get("config", {})
    differ = sorted(k for k in set(theirs) | set(config) if theirs.get(k) != config.get(k))
    if differ:
        raise ConfigError(f"train.init_from={name_or_path}: its model config differs in {', '.join(differ)}")
    model.load_state_dict(state, strict=True)
    return {"checkpoint": card.get("name", str(name_or_path)), "sha256": card["sha256"],
            "steps": (card.get("training") or {}).get("steps")}


def start_weights(model: torch.nn.Module, init_from: str, method: str, config: dict, out_dir: Path) -> dict | None:
    """Warm-start a fresh run from ``init_from`` (empty: none); a resumed run keeps the provenance it recorded."""
    if not init_from:
        return None
    card = out_dir / "export" / "card.json"
    if (out_dir / STATE_FILE).exists() and card.exists():
        return json.loads(card.read_text()).get("training", {}).get("init_from")
    return warm_start(model, init_from, method, config)
