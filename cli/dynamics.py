"""``gen3d dynamics``: reference MD with OpenMM, EquiJump rollouts, evaluation and training."""

from __future__ import annotations

from pathlib import Path

import typer

from gen3d.api import dynamics as api
from gen3d_cli.context import guarded
from gen3d_cli.tables import DEVICE_HELP, console, metrics_table, progress, run_training, write_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help="Molecular dynamics: simulate, jump, evaluate, train.")




def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@app.command()
def md(
    out: Path = typer.Option(..., "--out", help="Output folder (rerun the same command to resume)."),
    ns: float = typer.Option(..., "--ns", min=1e-6, help="Simulated time to produce, ns."),
    pdb: Path | None = typer.Option(None, "--pdb", help="Start structure; PDBFixer adds missing atoms and hydrogens."),
    sequence: str | None = typer.Option(None, "--sequence", help="Or build ACE-<sequence>-NME (one-letter codes), e.g. A for alanine dipeptide."),
    save_every: float = typer.Option(1.0, "--save-every", min=1e-6, help="Frame interval, ps."),
    temperature: float = typer.Option(300.0, "--temperature", min=1.0, help="Temperature, K."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial velocities and the Langevin noise."),
    platform: str = typer.Option("auto", "--platform", help="OpenMM platform: auto, Reference, CPU, CUDA or OpenCL."),
    all_atoms: bool = typer.Option(False, "--all-atoms", help="Save hydrogens too (default: heavy atoms)."),
    replicas: int = typer.Option(1, "--replicas", min=1, help="Independent runs, seeds --seed, --seed + 1, ... into OUT/seed-S."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Runs at a time, one process each (one per CPU core is fastest)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the run summary as JSON."),
) -> None:
    """Run reference MD with the default protocol (amber14 + OBC2 implicit solvent, Langevin 2 fs, 300 K, HBond constraints).

    Writes `topology.pdb`, `frames.xtc` (mdtraj-readable), `forces.npy` (kcal/mol/Å), `meta.json` and an
    OpenMM checkpoint; an interrupted run continues when the same command is run again.

    Examples:

    * `gen3d dynamics md --sequence A --ns 20 --save-every 1 --seed 2 --out runs/md/ala2-ref`
    * `gen3d dynamics md --pdb CLN025.pdb --ns 5 --save-every 5 --platform CPU --out runs/md/cln025`
    * `gen3d dynamics md --pdb CLN025.pdb --ns 8 --save-every 2 --seed 2 --replicas 4 --jobs 2 --out runs/md/cln025-ref`
    """

    def body() -> None:
        options = dict(pdb=pdb, sequence=sequence, save_every_ps=save_every, temperature=temperature, platform=platform, all_atoms=all_atoms)
        with progress() as bar:
            task = bar.add_task("simulating", total=None)
            update = lambda done, total: bar.update(task, completed=done, total=total)  # noqa: E731
            if replicas == 1:
                results = [api.run_md(out, ns, seed=seed, on_frames=update, **options)]
            else:
                results = api.run_md_replicas(out, ns, replicas=replicas, jobs=jobs, seed=seed, on_frames=update, **options)
        for result in results:
            console.print(metrics_table(f"MD: {result['out']}", [(k, _value(v)) for k, v in result.items() if k != "out"]))
        if json_out:
            write_json(json_out, results[0] if replicas == 1 else {"runs": results})

    guarded(body)


@app.command()
def pack(
    runs: list[Path] = typer.Argument(..., help="MD run folders (as `gen3d dynamics md` writes them) of one system."),
    out: Path = typer.Option(..., "--out", help="Set folder: topology.pdb, run-<name>.xtc per run, manifest.json (added to)."),
    every: int = typer.Option(1, "--every", min=1, help="Keep every N-th frame."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the manifest as JSON."),
) -> None:
    """Pack MD runs into a compact set to ship or to pass as one `--reference` (heavy atoms, thinned, sha256 per run).

    Examples:

    * `gen3d dynamics pack runs/md/cln025-s2 runs/md/cln025-s3 --every 5 --out runs/md/cln025-reference`
    * `gen3d dynamics evaluate runs/rollout --reference runs/md/cln025-reference --native CLN025.pdb`
    """

    def body() -> None:
        manifest = api.pack_md(runs, out, every)
        rows = [(r["file"], f"{r['frames']} frames, {r['ns']:g} ns") for r in manifest["runs"]] + [("total ns", _value(manifest["total_ns"]))]
        console.print(metrics_table(f"MD set: {out}", rows))
        if json_out:
            write_json(json_out, manifest)

    guarded(body)


@app.command()
def rollout(
    init: Path = typer.Option(..., "--init", help="Start structure (PDB) with every heavy atom of the checkpoint's system."),
    jumps: int = typer.Option(..., "--jumps", min=1, help="Jumps per walker (each tau ps; tau is in the card)."),
    out: Path = typer.Option(..., "--out", help="Output folder: topology.pdb, walker-NNN.xtc (+ .pdb), meta.json."),
    walkers: int = typer.Option(1, "--walkers", min=1, help="Walkers advanced together as one batch."),
    checkpoint: str = typer.Option(api.DEFAULT_DYNAMICS, "--checkpoint", help="EquiJump checkpoint: shipped name or folder."),
    ode: bool | None = typer.Option(None, "--ode/--sde", help="Deterministic ODE or stochastic SDE sampling of each jump [default: the card's sampling settings, else ODE]."),
    eps: float | None = typer.Option(None, "--eps", min=0.0, help="SDE diffusion scale [default: the card's, else 1]."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Integration steps per jump [default: the card's, else 8]."),
    retries: int = typer.Option(8, "--retries", min=0, help="Redraws of a jump that inverts a Cα or breaks a bond before the walker stays put (0: accept every jump)."),
    project: bool | None = typer.Option(None, "--project/--no-project", help="Restore bond lengths and angles after every jump (the card's training means, else the start's) [default: the card's sampling settings, else off]."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same trajectories on the same device."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    pdb: bool = typer.Option(True, "--pdb/--no-pdb", help="Also write each walker as a multi-model PDB."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the run summary as JSON."),
) -> None:
    """Roll out EquiJump: every walker jumps tau ps at a time from the start structure.

    Examples:

    * `gen3d dynamics rollout --init ala2.pdb --jumps 1000 --walkers 100 --out runs/rollout`
    * `gen3d dynamics rollout --init ala2.pdb --jumps 100 --walkers 10 --retries 0 --out raw/` (every proposal kept)
    * `gen3d dynamics rollout --checkpoint equijump-cln025 --init CLN025.pdb --jumps 200 --walkers 16 --sde --eps 0.5 --out out/`
    """

    def body() -> None:
        with progress() as bar:
            task = bar.add_task("jumping", total=jumps)
            meta = api.rollout(
                checkpoint, init, out, jumps, walkers=walkers, mode=None if ode is None else ("ode" if ode else "sde"), eps=eps, steps=steps, retries=retries,
                project=project, seed=seed, device=device, pdb=pdb, on_jump=lambda k: bar.update(task, completed=k),
            )
        rows = [(k, _value(v)) for k, v in meta.items() if not isinstance(v, dict)]
        rows += [(k, _value(meta["checks"][k])) for k in ("rejected_fraction", "stayed_fraction") if "checks" in meta]
        console.print(metrics_table(f"rollout: {out}", rows))
        if json_out:
            write_json(json_out, meta)

    guarded(body)


@app.command()
def evaluate(
    trajectory: Path = typer.Argument(..., help="Rollout or MD folder, or a trajectory file (XTC beside topology.pdb, or PDB)."),
    reference: list[Path] = typer.Option(..., "--reference", help="Reference MD folder (or trajectory file) of the same system; repeat for several runs."),
    native: Path | None = typer.Option(None, "--native", help="Native structure for RMSD and contacts (default: first reference frame)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the metrics as JSON."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for PNG free-energy plots, model beside reference."),
) -> None:
    """Compare a trajectory ensemble with reference MD: phi/psi (peptides) or TICA, RMSD, Rg, Q (proteins); bond sanity.

    Examples:

    * `gen3d dynamics evaluate runs/rollout --reference runs/md/ala2-ref-s2 --reference runs/md/ala2-ref-s3 --plots plots/`
    * `gen3d dynamics evaluate runs/rollout-cln --reference runs/md/cln025-ref --json metrics.json`
    """

    def body() -> None:
        report = api.evaluate_trajectories(trajectory, reference, native=native, plots=plots)
        rows = [("frames", str(report["n"])), ("trajectories", str(report["trajectories"]))]
        rows += [(k, _value(v)) for k, v in report["metrics"].items()]
        console.print(metrics_table(f"{trajectory} vs {', '.join(map(str, reference))}", rows))
        if json_out:
            write_json(json_out, report)

    guarded(body)


@app.command()
def train(
    config: Path = typer.Option(..., "--config", help="TOML config (see configs/equijump-ala2.toml)."),
    overrides: list[str] = typer.Argument(None, help="Overrides such as train.steps=1000 model.tau_ps=50."),
    out: Path = typer.Option(..., "--out", help="Run folder: state.pt (resume), log.jsonl, export/."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Train (or resume) an EquiJump model on reference MD folders.

    Examples:

    * `gen3d dynamics train --config configs/equijump-ala2.toml --out runs/equijump-ala2`
    * `gen3d dynamics train --config configs/equijump-ala2.toml --out runs/quick train.steps=200`
    """

    def body() -> None:
        run_training(lambda **hooks: api.train_dynamics(config, overrides or [], out, device=device, **hooks))

    guarded(body)
