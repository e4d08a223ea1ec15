"""Rich tables and JSON output shared by commands."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gen3d.io.atomic import atomic_write_text

console = Console(highlight=False)
DEVICE_HELP = "auto (CUDA if available), cpu or cuda."


def progress(transient: bool = False):
    """The progress bar every long command shows: description, bar, done/total, elapsed, remaining."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=transient,
    )


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


def run_training(train) -> None:
    """Run ``train(echo=..., on_step=...)`` under a progress bar, then print its final info as a table."""
    with progress() as bar:
        task = bar.add_task("training", total=None)
        info = train(echo=bar.console.print, on_step=lambda step, total: bar.update(task, completed=step, total=total))
    console.print(metrics_table("training", [(k, str(v)) for k, v in info.items() if not isinstance(v, dict)]))
