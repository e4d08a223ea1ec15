"""Rich tables and JSON output shared by commands."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gen3d.io.atomic import atomic_write_text

console = Console(highlight=False)


def metrics_table(title: str, rows: list[tuple[str, str]]) -> Table:
    """A two-column table of metric label and formatted value."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return table


def write_json(path: Path, payload: dict) -> None:
    """Write machine-readable results atomically."""
    atomic_write_text(path, json.dumps(payload, indent=2, default=float) + "\n")
