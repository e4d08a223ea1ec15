"""Process-wide CLI state and the guard that turns errors into exit codes."""

from __future__ import annotations

from collections.abc import Callable

import typer

from gen3d_cli.errors import run_guarded

STATE = {"debug": False}


def guarded(func: Callable[[], None]) -> None:
    """Run a command body under the house exit-code policy."""
    code = run_guarded(func, STATE["debug"])
    if code:
        raise typer.Exit(code)
