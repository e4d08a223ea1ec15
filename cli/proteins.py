"""``gen3d proteins``: build datasets, train, reconstruct, interpolate, sample and evaluate protein structures."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from gen3d import api
from gen3d_cli.context import guarded
from gen3d_cli.proteins_evaluate import register as register_evaluate
from gen3d_cli.tables import DEVICE_HELP, console, metrics_table, progress, run_training, write_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help="Proteins: reconstruct, interpolate, sample, evaluate, train.")
register_evaluate(app)


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


@app.command()
def reconstruct(
    inp: Path = typer.Argument(..., help="Input structure: PDB or mmCIF, gzip allowed."),
    out: Path = typer.Option(..., "--out", help="Decoded structure (.pdb, .cif, .gz)."),
    checkpoint: str = typer.Option(api.DEFAULT_AUTOENCODER, "--checkpoint", help="Autoencoder: shipped name or folder."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    json_out: Path | None = typer.Option(None, "--json", help="Write the errors as JSON."),
) -> None:
    """Encode a structure to the coarse latent and decode it back; print Cα and all-atom RMSD (Å), GDT-TS and
    residue-identity recovery.

    Examples:

    * `gen3d proteins reconstruct 1abc.pdb --out 1abc.x2.pdb`
    * `gen3d proteins reconstruct 1abc.cif.gz --out out.pdb --checkpoint ophiuchus-pdb-x8 --json errors.json`
    """

    def body() -> None:
        report = api.reconstruct_protein(inp, out, checkpoint=checkpoint, device=device)
        rows = [(k, _fmt(v)) for k, v in report["metrics"].items()]
        console.print(metrics_table(f"{inp.name} -> {out.name}", rows))
        if json_out:
            write_json(json_out, report)

    guarded(body)


@app.command()
def interpolate(
    start: Path = typer.Argument(..., help="First conformation (PDB/mmCIF)."),
    end: Path = typer.Argument(..., help="Second conformation of the same sequence."),
    frames: int = typer.Option(20, "--frames", min=2, help="Frames, both ends included."),
    out: Path = typer.Option(..., "--out", help="Multi-model PDB of the path."),
    checkpoint: str = typer.Option(api.DEFAULT_AUTOENCODER, "--checkpoint", help="Autoencoder: shipped name or folder."),
    path: str = typer.Option("geodesic", "--path", help="Latent path: geodesic (follows local rotations) or linear."),
    refine_steps: int = typer.Option(20, "--refine-steps", min=0, help="Steric refinement steps per frame's latent (0: off)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    json_out: Path | None = typer.Option(None, "--json", help="Write per-frame results as JSON."),
) -> None:
    """Interpolate between two conformations in latent space and decode every frame; compare with straight
    Cartesian interpolation (RMSD to both ends in Å, chain breaks, clashes). Each frame's latent is refined
    by a few gradient steps that remove steric overlaps from what it decodes to (--refine-steps 0: off).

    Examples:

    * `gen3d proteins interpolate closed.pdb open.pdb --frames 20 --out path.pdb`
    * `gen3d proteins interpolate a.pdb b.pdb --frames 10 --out path.pdb --json path.json`
    * `gen3d proteins interpolate a.pdb b.pdb --frames 20 --out raw.pdb --path linear --refine-steps 0`
    """

    def body() -> None:
        with progress() as bar:
            task = bar.add_task("decoding and scoring frames", total=2 * frames)
            report = api.interpolate_proteins(
                start, end, frames, out, checkpoint=checkpoint, path=path, refine_steps=refine_steps, device=device,
                on_frame=lambda: bar.advance(task),
            )
        console.print(_frames_table(report["per_item"]))
        console.print(metrics_table("summary", [(k, _fmt(v)) for k, v in report["metrics"].items()]))
        if json_out:
            write_json(json_out, report)

    guarded(body)


def _frames_table(rows: list[dict]) -> Table:
    table = Table(title="frames: latent | cartesian", header_style="bold")
    for col in ("frame", "RMSD start Å", "RMSD end Å", "breaks", "clash score", "cart. RMSD start", "cart. RMSD end", "cart. breaks", "cart. clash"):
        table.add_column(col, justify="right")
    for r in rows:
        lat, cart = r["latent"], r["cartesian"]
        table.add_row(
            str(r["frame"]), f"{lat['rmsd_to_start']:.2f}", f"{lat['rmsd_to_end']:.2f}", str(lat.get("chain_breaks")),
            f"{lat.get('clash_score', 0):.1f}", f"{cart['rmsd_to_start']:.2f}", f"{cart['rmsd_to_end']:.2f}",
            str(cart.get("chain_breaks")), f"{cart.get('clash_score', 0):.1f}",
        )
    return table


@app.command()
def data(
    source: Path = typer.Option(..., "--from", help="Folder of PDB/mmCIF files (gzip allowed), searched recursively."),
    out: Path = typer.Option(..., "--out", help="Dataset file (.npz)."),
    lengths: str = typer.Option("30-1000", "--lengths", help="MIN-MAX residues of the unbroken segments kept."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the summary (and skipped files) as JSON."),
) -> None:
    """Parse a structure corpus into unbroken protein segments with a train/valid/test split by entry.

    Examples:

    * `gen3d proteins data --from ../shared/data/pdb70 --out runs/data/pdb70.npz`
    * `gen3d proteins data --from my_pdbs/ --out small.npz --lengths 40-80`
    """

    def body() -> None:
        lo, hi = _lengths(lengths)
        with progress() as bar:
            task = bar.add_task("parsing", total=None)
            report = api.build_protein_dataset(source, out, min_length=lo, max_length=hi, on_file=lambda p, r: bar.advance(task))
        console.print(metrics_table(f"{out.name}", [(k, _fmt(v)) for k, v in report["metrics"].items()]))
        console.print(f"split: {report['split']}")
        if json_out:
            write_json(json_out, report)

    guarded(body)


def _lengths(text: str, option: str = "--lengths") -> tuple[int, int]:
    """``L`` or ``MIN-MAX`` residues, as a checked (MIN, MAX)."""
    from gen3d.io.errors import InputError

    try:
        lo, _, hi = text.partition("-")
        lo, hi = int(lo), int(hi or lo)
    except ValueError:
        raise InputError(option, f"expected L or MIN-MAX, got {text!r}") from None
    if not 1 <= lo <= hi:
        raise InputError(option, f"expected 1 <= MIN <= MAX, got {text!r}")
    return lo, hi


@app.command()
def train(
    config: Path = typer.Option(..., "--config", help="TOML config (see configs/ophiuchus-pdb-x2.toml)."),
    overrides: list[str] = typer.Argument(None, help="Overrides such as train.steps=1000 model.levels=2."),
    out: Path = typer.Option(..., "--out", help="Run folder: state.pt (resume), log.jsonl, export/."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Train (or resume) an Ophiuchus autoencoder, its latent DDPM, a type readout or a decoder for noisy latents
    (the config's `kind`); use torchrun for several processes or GPUs.

    Examples:

    * `gen3d proteins train --config configs/ophiuchus-pdb-x2.toml --out runs/ophiuchus-pdb-x2`
    * `gen3d proteins train --config configs/ophiuchus-pdb-x8-readout.toml --out runs/x8-readout` (type readout on a frozen x8)
    * `gen3d proteins train --config configs/ophiuchus-pdb-x2-decoder.toml --out runs/x2-decoder` (decoder on noisy latents, encoder frozen)
    * `torchrun --nproc-per-node 2 -m gen3d_cli.app proteins train --config configs/ophiuchus-pdb-x8.toml --out runs/x8 --device cpu`
    """

    def body() -> None:
        run_training(lambda **hooks: api.train_proteins(config, overrides or [], out, device=device, **hooks))

    guarded(body)


@app.command()
def sample(
    n: int = typer.Option(..., "--n", min=1, help="Number of miniproteins."),
    length: str = typer.Option("40-70", "--length", help="Residues: L or MIN-MAX (drawn uniformly per sample)."),
    out: Path = typer.Option(..., "--out", help="Output folder: one PDB per sample (sample_0000.pdb, ...)."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Denoising steps [default: 500; a named scheduler's own]."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="ddim (default: 500 ancestral steps, eta 1, noise scale 0.35), ddpm or dpm (DPM-Solver++)."),
    eta: float | None = typer.Option(None, "--eta", min=0.0, max=1.0, help="DDIM stochasticity: 0 deterministic, 1 DDPM's posterior noise."),
    noise_scale: float | None = typer.Option(None, "--noise-scale", min=0.0, help="DDIM: scale of the noise each stochastic step adds (below 1: low temperature)."),
    guidance: float | None = typer.Option(None, "--guidance", min=0.0, help="Scale of the secondary-structure classifier's pull toward helix and strand (0: unguided)."),
    guide: str | None = typer.Option(None, "--guide", help="Structure classifier checkpoint for --guidance [default: the shipped ophiuchus-miniproteins-ss]."),
    relax: bool = typer.Option(True, "--relax/--no-relax", help="Amber-minimise each decoded chain (heavy atoms restrained; closes chain gaps, removes clashes)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files on the same device."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Proteins denoised together."),
    checkpoint: str = typer.Option(api.DEFAULT_DENOISER, "--checkpoint", help="Latent DDPM checkpoint: shipped name or folder."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the quality summary at the end."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the quality metrics as JSON."),
) -> None:
    """Sample miniproteins: a latent DDPM draws coarse latents, the Ophiuchus decoder builds every heavy atom.

    Examples:

    * `gen3d proteins sample --n 10 --length 40-70 --out samples/miniproteins`
    * `gen3d proteins sample --n 100 --length 56 --out out/ --scheduler dpm --steps 25 --seed 1`
    * `gen3d proteins sample --n 16 --out raw/ --no-relax --noise-scale 1.0 --guidance 0` (as drawn: full noise, unguided)
    """

    def body() -> None:
        lo, hi = _lengths(length, "--length")
        with progress() as bar:
            task = bar.add_task("sampling", total=n)
            result = api.sample_proteins(out, n, lengths=(lo, hi), checkpoint=checkpoint, scheduler=scheduler, steps=steps,
                                         eta=eta, noise_scale=noise_scale, guidance=guidance, guide=guide, relax=relax, seed=seed, batch_size=batch_size,
                                         device=device, on_protein=lambda: bar.advance(task))
        secs = result["seconds"]
        console.print(f"wrote {n} structures to {out}/ in {secs:.1f} s ({n / max(secs, 1e-9):.2f} structures/s, {result['scheduler']})")
        if not no_eval:
            from gen3d.metrics.protein_files import evaluate_protein_files
            from gen3d.metrics.proteins import summary_rows

            report = evaluate_protein_files(result["files"], tm=True)
            console.print(metrics_table(f"{n} sampled miniproteins", summary_rows(report)))
            if json_out:
                write_json(json_out, report)

    guarded(body)


@app.command("test")
def test_command(
    checkpoint: str = typer.Option(api.DEFAULT_AUTOENCODER, "--checkpoint", help="Autoencoder: shipped name or folder."),
    dataset: Path = typer.Option(..., "--dataset", help="Dataset made by `gen3d proteins data`."),
    split: str = typer.Option("test", "--split", help="train, valid or test."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    json_out: Path | None = typer.Option(None, "--json", help="Write the errors (and per-segment rows) as JSON."),
) -> None:
    """Reconstruct every whole segment of a dataset split: pooled Cα and all-atom RMSD (Å), GDT-TS, recovery.

    Examples:

    * `gen3d proteins test --checkpoint ophiuchus-pdb-x2 --dataset runs/data/pdb70.npz`
    * `gen3d proteins test --checkpoint runs/x8/export --dataset runs/data/pdb70.npz --split valid --json valid.json`
    """

    def body() -> None:
        with progress() as bar:
            task = bar.add_task("reconstructing", total=None)
            report = api.test_autoencoder(checkpoint, dataset, split=split, device=device, on_chain=lambda: bar.advance(task))
        console.print(metrics_table(f"{checkpoint}: {split} split", [(k, _fmt(v)) for k, v in report["metrics"].items()]))
        if json_out:
            write_json(json_out, report)

    guarded(body)
