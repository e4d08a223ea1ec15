"""``gen3d checkpoints``: list registered models and their shipped checkpoints; publish and interpolate."""

from __future__ import annotations

import json
from pathlib import Path

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


@app.command()
def publish(
    source: str = typer.Argument(..., help="Checkpoint folder to publish (e.g. runs/symphony-qm9/export)."),
    name: str = typer.Option(..., "--name", help="Name under checkpoints/ (e.g. symphony-qm9)."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Metrics JSON measured on this checkpoint (from --json)."),
    command: str = typer.Option("", "--command", help="The command that measured the metrics."),
    run: Path | None = typer.Option(None, "--run", help="Training run folder: its validation log becomes the card's learning curve."),
) -> None:
    """Ship a trained checkpoint: weights + card with the measured metrics and the learning curve.

    Example: `gen3d checkpoints publish runs/symphony-qm9/export --name symphony-qm9 --metrics m.json --command "..." --run runs/symphony-qm9`
    """

    def body() -> None:
        from gen3d.checkpoints import publish as publish_checkpoint
        from gen3d.checkpoints import shipped_dir
        from gen3d.train.loop import learning_curve

        report = json.loads(metrics.read_text()) if metrics else None
        extra = {"learning_curve": learning_curve(run)} if run else None
        card = publish_checkpoint(source, shipped_dir() / name, report, command, extra)
        measured = len(card["metrics"]["values"]) if card.get("metrics") else 0
        console.print(f"published {name}: sha256 {card['sha256'][:16]}..., {measured} measured metrics")

    guarded(body)


@app.command()
def interpolate(
    start: str = typer.Argument(..., help="Checkpoint at alpha = 0 (shipped name or folder)."),
    end: str = typer.Argument(..., help="Checkpoint at alpha = 1, same architecture (e.g. a fine-tune of START)."),
    alpha: float = typer.Option(..., "--alpha", min=0.0, max=1.0, help="Weight of END: (1 - alpha) * START + alpha * END."),
    out: Path = typer.Option(..., "--out", help="Folder for the interpolated checkpoint."),
) -> None:
    """Interpolate two checkpoints of one architecture in weight space (WiSE-FT between a model and its fine-tune).

    The card is END's, less its measurements, with both parents' sha256 under `interpolation`.

    Example: `gen3d checkpoints interpolate equijump-cln025 runs/ft/export --alpha 0.5 --out runs/blend`
    """

    def body() -> None:
        from gen3d.weight_interpolation import interpolate_checkpoints

        card = interpolate_checkpoints(start, end, alpha, out)
        console.print(f"wrote {out}: alpha {alpha:g}, sha256 {card['sha256'][:16]}...")

    guarded(body)
