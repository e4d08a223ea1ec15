"""``gen3d checkpoints``: list registered models and their shipped checkpoints."""

from __future__ import annotations

import typer
from rich.table import Table

from gen3d.checkpoints import CheckpointError, read_card, resolve
from gen3d.samplers.registry import REGISTRY
from gen3d_cli.context import guarded
from gen3d_cli.tables import console

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help="Shipped checkpoints and the model registry.")


@app.command("list")
def list_checkpoints() -> None:
    """List registered models, their default checkpoint and its measured metrics.

    Example: `gen3d checkpoints list`
    """

    def body() -> None:
        table = Table(title="gen3d models", header_style="bold")
        for col in ("model", "area", "method", "checkpoint"):
            table.add_column(col, no_wrap=True)
        table.add_column("status")
        table.add_column("description")
        for entry in REGISTRY.values():
            try:
                card = read_card(resolve(entry.checkpoint))
                status = f"{card.get('version', '?')}, {card.get('training', {}).get('steps', '?')} steps"
            except CheckpointError as err:
                status = f"missing ({err})"
            table.add_row(entry.name, entry.area, entry.method, entry.checkpoint, status, entry.description)
        console.print(table)

    guarded(body)
