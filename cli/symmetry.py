"""``gen3d symmetry``: point groups of molecules and their symmetry-breaking sets."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from gen3d.symmetry.detect import DEFAULT_TOLERANCE
from gen3d.symmetry.report import detect_file, set_for, table_rows
from gen3d_cli.context import guarded
from gen3d_cli.tables import console

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help="Point groups and symmetry-breaking sets.")

TOL_HELP = "Distance tolerance in Å for matching atoms under an operation."


def _print_json(payload) -> None:
    typer.echo(json.dumps(payload, indent=2))


@app.command()
def detect(
    file: Path = typer.Argument(..., help="XYZ or SDF file (every molecule in it is analysed)."),
    tol: float = typer.Option(DEFAULT_TOLERANCE, "--tol", min=1e-4, help=TOL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the operations) instead of a table."),
) -> None:
    """Detect the point group (Schoenflies) of each molecule: order, principal axis, operations.

    Examples:

    * `gen3d symmetry detect benzene.xyz`
    * `gen3d symmetry detect mols.sdf --tol 0.1 --json`
    """

    def body() -> None:
        rows = detect_file(file, tol)
        if as_json:
            _print_json(rows)
            return
        table = Table(title=f"{file.name}: point groups (tol {tol} Å)", header_style="bold")
        for col in ("molecule", "group", "order", "principal axis"):
            table.add_column(col)
        for row in rows:
            table.add_row(row["name"], row["group"], str(row["order"]), " ".join(f"{v:+.3f}" for v in row["principal_axis"]))
        console.print(table)

    guarded(body)


@app.command()
def sbs(
    source: str = typer.Argument(..., help="A Schoenflies symbol (C2v, D3h, Td, Oh, ...) or an XYZ/SDF file."),
    target: str = typer.Option("C1", "--target", help="Subgroup K to break down to (C1: break every symmetry)."),
    tol: float = typer.Option(DEFAULT_TOLERANCE, "--tol", min=1e-4, help=TOL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Print the smallest equivariant symmetry-breaking set of a group (standard frame) or molecule (its frame).

    Examples:

    * `gen3d symmetry sbs D3h`
    * `gen3d symmetry sbs Oh --target C4v`
    * `gen3d symmetry sbs methane.xyz --json`
    """

    def body() -> None:
        info = set_for(source, target, tol)
        if as_json:
            _print_json(info)
            return
        props = Table(title=f"breaking set of {info['group']} -> {info['target']} ({info['source']})", header_style="bold")
        props.add_column("property")
        props.add_column("value")
        for key in ("normaliser", "irreps", "size", "ideal", "continuous", "stabilisers", "closed_under_group", "closed_under_normaliser"):
            props.add_row(key.replace("_", " "), str(info[key]))
        console.print(props)
        elements = Table(title="elements" + (" (one point per circle about the axis)" if info["continuous"] else ""), header_style="bold")
        elements.add_column("#", justify="right")
        elements.add_column(f"b ({info['irreps']})")
        for i, b in enumerate(info["elements"]):
            elements.add_row(str(i), " ".join(f"{v:+.4f}" for v in b))
        console.print(elements)

    guarded(body)


@app.command()
def table(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """The breaking-set table of the 32 crystallographic point groups (takes ~20 s: it searches every set)."""

    def body() -> None:
        rows = table_rows()
        if as_json:
            _print_json(rows)
            return
        out = Table(title="equivariant symmetry-breaking sets (full breaking, K = C1)", header_style="bold")
        for col in rows[0]:
            out.add_column(col.replace("_", " "))
        for row in rows:
            out.add_row(*(str(v) for v in row.values()))
        console.print(out)

    guarded(body)
