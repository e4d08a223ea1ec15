"""Root of the ``gen3d`` command: ``gen3d <area> <verb>``."""

from __future__ import annotations

import typer

from gen3d_cli import checkpoints, dynamics, molecules, proteins, symmetry
from gen3d_cli.context import STATE

app = typer.Typer(
    name="gen3d",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
    help="3D generative modeling of atomistic structures: generate, score and train.",
)
app.add_typer(molecules.app, name="molecules")
app.add_typer(proteins.app, name="proteins")
app.add_typer(dynamics.app, name="dynamics")
app.add_typer(checkpoints.app, name="checkpoints")
app.add_typer(symmetry.app, name="symmetry")


@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="Print tracebacks for internal errors.")) -> None:
    """gen3d: molecules and proteins from E(3)-equivariant generative models."""
    STATE["debug"] = debug


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # python -m gen3d_cli.app (e.g. under torchrun)
    main()
