"""``gen3d proteins evaluate``: quality metrics of protein structures; ``register`` adds it to a Typer app."""

from __future__ import annotations

from pathlib import Path

import typer

from gen3d_cli.context import guarded
from gen3d_cli.tables import console, metrics_table, progress, write_json

REFERENCE_HELP = "Reference structures (folder or file): novelty as the highest TM-score to them; drawn in the plots."
OPENMM_HELP = "Check that each structure builds as an Amber14 system in OpenMM (about 1 s per structure)."


def evaluate(
    paths: list[Path] = typer.Argument(..., help="Structure files (.pdb, .cif, optionally .gz) or folders of them."),
    json_out: Path | None = typer.Option(None, "--json", help="Write metrics (and per-structure results) as JSON."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for ramachandran.png and radius_of_gyration.png."),
    reference: Path | None = typer.Option(None, "--reference", help=REFERENCE_HELP),
    no_tm: bool = typer.Option(False, "--no-tm", help="Skip TM-scores (diversity, novelty); they need tmtools."),
    openmm: bool = typer.Option(False, "--openmm/--no-openmm", help=OPENMM_HELP),
) -> None:
    """Score protein structures: backbone geometry, chain breaks, clashes, Ramachandran, DSSP, Rg, TM-scores.

    Examples:

    * `gen3d proteins evaluate samples/proteins/`
    * `gen3d proteins evaluate a.pdb b.cif.gz --json metrics.json --no-tm`
    * `gen3d proteins evaluate samples/ --reference data/pdb/test --plots plots/ --openmm`
    """
    from gen3d.metrics.protein_files import evaluate_protein_files
    from gen3d.metrics.proteins import summary_rows

    def body() -> None:
        with progress(transient=True) as bar:
            tasks: dict[str, int] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            report = evaluate_protein_files(
                paths, reference=[reference] if reference else None, tm=not no_tm, openmm=openmm, plots=plots,
                progress=advance,
            )
        console.print(metrics_table(f"{report['n']} protein structures", summary_rows(report)))
        if json_out:
            write_json(json_out, report)
        if plots:
            console.print(f"plots in {plots}/")

    guarded(body)




def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app`` (the ``gen3d proteins`` sub-app)."""
    app.command("evaluate")(evaluate)
