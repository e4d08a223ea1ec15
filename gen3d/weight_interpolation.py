"""Weight-space interpolation between two checkpoints of one architecture (WiSE-FT).

``(1 - alpha) * start + alpha * end``, tensor by tensor. Between a model and its own fine-tune
this trades what the fine-tune learned against what it forgot (Wortsman et al., 2022); the
result is a checkpoint like any other, with both parents' sha256 in its card.
"""

from __future__ import annotations

import os
from pathlib import Path

from gen3d.checkpoints import CheckpointError, load_checkpoint, read_card, resolve, save_checkpoint

#: Card entries that describe measurements of the parent, not of the interpolated weights.
_MEASURED = ("sha256", "metrics", "acceptance")


def interpolate_checkpoints(
    start: str | os.PathLike, end: str | os.PathLike, alpha: float, dest: str | os.PathLike
) -> dict:
    """Write ``(1 - alpha) * start + alpha * end`` to ``dest``; returns its card (``end``'s, less its measurements)."""
    if not 0.0 <= alpha <= 1.0:
        raise CheckpointError(f"alpha must lie in [0, 1], got {alpha}")
    card_a, card_b = read_card(resolve(start)), read_card(resolve(end))
    for key in ("method", "version", "config"):
        if card_a.get(key) != card_b.get(key):
            raise CheckpointError(f"checkpoints differ in '{key}': only one architecture can be interpolated")
    state_a, _ = load_checkpoint(start, card_a["method"])
    state_b, _ = load_checkpoint(end, card_b["method"])
    if set(state_b) != set(state_a):
        raise CheckpointError("checkpoints hold different tensors: only one architecture can be interpolated")
    state = {name: _mix(name, state_a[name], state_b[name], alpha) for name in state_a}
    card = {k: v for k, v in card_b.items() if k not in _MEASURED}
    card["interpolation"] = {
        "alpha": alpha,
        "weights": "(1 - alpha) * start + alpha * end, tensor by tensor",
        "start": {"checkpoint": _label(start), "sha256": card_a["sha256"]},
        "end": {"checkpoint": _label(end), "sha256": card_b["sha256"]},
    }
    return save_checkpoint(Path(dest), state, card)


def _label(checkpoint: str | os.PathLike) -> str:
    """A short name for a parent: a shipped name, or the last two parts of its path (``run/export``), never a full path."""
    return "/".join(Path(checkpoint).parts[-2:])


def _mix(name: str, a, b, alpha: float):
    """One tensor of the interpolation; integer tensors (counters, indices) must agree."""
    if a.shape != b.shape or a.dtype != b.dtype:
        raise CheckpointError(f"tensor '{name}' differs in shape or type between the checkpoints")
    if not a.dtype.is_floating_point:
        if not bool((a == b).all()):
            raise CheckpointError(f"integer tensor '{name}' differs between the checkpoints")
        return a
    return (1.0 - alpha) * a + alpha * b
