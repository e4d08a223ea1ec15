"""``gen3d molecules``: sample, evaluate and train small-molecule models."""

from __future__ import annotations

from pathlib import Path

import typer

from gen3d import api
from gen3d_cli.context import guarded
from gen3d_cli.tables import DEVICE_HELP, console, metrics_table, progress, run_training, write_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help="Small molecules: sample, evaluate, train.")




def _print_report(title: str, report: dict) -> None:
    console.print(metrics_table(title, api.report_rows(report)))


@app.command()
def sample(
    n: int = typer.Option(..., "--n", min=1, help="Number of molecules to generate."),
    out: Path = typer.Option(..., "--out", help="Output file: .sdf (bonds + SD tags) or .xyz."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same file on the same device."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Molecules generated together."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    temperature: float = typer.Option(api.DEFAULT_TEMPERATURE, "--temperature", min=1e-3, help="Temperature of focus, element and STOP (lower: more conservative)."),
    position_temperature: float = typer.Option(
        api.DEFAULT_POSITION_TEMPERATURE, "--position-temperature", min=1e-3, help="Temperature of the new atom's radius and direction."
    ),
    checkpoint: str = typer.Option("symphony-qm9", "--checkpoint", help="Shipped checkpoint name or folder path."),
    valence_mask: bool = typer.Option(
        api.DEFAULT_VALENCE_MASK, "--valence-mask/--no-valence-mask",
        help="Valence rules (not in the Symphony paper): never grow from a full atom, never bond a new atom to a "
        "full one (a new H only to its focus), STOP only when no radical is left.",
    ),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the metrics summary at the end."),
    posebusters: bool = typer.Option(True, "--posebusters/--no-posebusters", help="Include PoseBusters checks in the summary."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the metrics as JSON to this file."),
    symmetry_breaking: Path | None = typer.Option(
        None, "--symmetry-breaking",
        help="Grow every molecule from this symmetric seed (XYZ/SDF); a symmetry-breaking set picks which of the "
        "equivalent first placements each molecule takes (uniform over them). Saturated seeds need --no-valence-mask.",
    ),
) -> None:
    """Generate 3D molecules with a Symphony checkpoint and stream them to a file.

    Examples:

    * `gen3d molecules sample --n 100 --out mols.sdf`
    * `gen3d molecules sample --n 1000 --out mols.sdf --seed 1 --batch-size 256 --temperature 0.8`
    * `gen3d molecules sample --n 10 --out mols.xyz --checkpoint path/to/folder --device cpu --no-eval`
    * `gen3d molecules sample --n 20 --out grown.sdf --symmetry-breaking benzene.xyz --no-valence-mask`
    """

    def body() -> None:
        with progress() as bar:
            task = bar.add_task("sampling", total=n)
            result = api.sample_molecules(
                out, n, checkpoint=checkpoint, seed=seed, batch_size=batch_size, device=device,
                temperature=temperature, position_temperature=position_temperature, valence_mask=valence_mask, evaluate=not no_eval, posebusters=posebusters, on_molecule=lambda: bar.advance(task),
                symmetry_seed=symmetry_breaking,
            )
        console.print(f"wrote {n} molecules to {out} in {result['seconds']:.1f} s ({n / max(result['seconds'], 1e-9):.1f} molecules/s)")
        if result["report"] is not None:
            _print_report(f"{out.name}: {n} molecules", result["report"])
            if json_out:
                write_json(json_out, result["report"])

    guarded(body)


@app.command()
def evaluate(
    file: Path = typer.Argument(..., help="SDF or XYZ file of generated molecules."),
    json_out: Path | None = typer.Option(None, "--json", help="Write metrics (and per-molecule results) as JSON."),
    reference: str = typer.Option("qm9", "--reference", help="Reference set for novelty and bond lengths: qm9 or none."),
    posebusters: bool = typer.Option(True, "--posebusters/--no-posebusters", help="Run PoseBusters 'mol' checks."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds allowed for bond perception per molecule."),
) -> None:
    """Score generated molecules: validity, stability, uniqueness, novelty, PoseBusters, bond lengths.

    Examples:

    * `gen3d molecules evaluate samples/symphony-qm9-seed0.sdf`
    * `gen3d molecules evaluate mols.xyz --json metrics.json --reference none`
    """

    def body() -> None:
        report = api.evaluate_file(file, reference=reference, posebusters=posebusters, timeout=timeout)
        _print_report(f"{file.name}: {report['n']} molecules", report)
        if json_out:
            write_json(json_out, report)

    guarded(body)


@app.command()
def train(
    config: Path = typer.Option(..., "--config", help="TOML config (see configs/symphony-qm9.toml)."),
    overrides: list[str] = typer.Argument(None, help="Overrides such as train.steps=1000 model.num_layers=2."),
    out: Path = typer.Option(Path("runs/symphony-qm9"), "--out", help="Run folder: state.pt (resume), log.jsonl, export/."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Train (or resume) Symphony on QM9; use torchrun for several processes or GPUs.

    Examples:

    * `gen3d molecules train --config configs/symphony-qm9.toml`
    * `gen3d molecules train --config configs/symphony-qm9.toml train.steps=2000 train.batch_size=64`
    * `torchrun --nproc-per-node 2 -m gen3d_cli.app molecules train --config configs/symphony-qm9.toml --device cpu`
    """

    def body() -> None:
        run_training(lambda **hooks: api.train_molecules(config, overrides or [], out, device=device, **hooks))

    guarded(body)
