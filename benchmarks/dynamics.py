"""EquiJump rollout speed against OpenMM on the same machine, in one run.

OpenMM is timed in every configuration we support for the system (platform Reference or CPU,
OBC2 as the native GBSAOBCForce or as implicit/obc2.xml's CustomGBForce) and the fastest is the
baseline. EquiJump is timed rolling out W walkers; its simulated time is walkers x jumps x tau.
Both use one thread each unless --threads says otherwise (OpenMM's Reference platform is single
threaded; on a machine with k cores both could run k copies, which scales both sides alike).
Prints one line per measurement: ``name, device, batch, ns/s, peak MiB``, then the speed-up.

    python benchmarks/dynamics.py [--checkpoint equijump-ala2] [--walkers 100] [--jumps 20] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _peak(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _start(checkpoint: str):
    """The checkpoint's system as an OpenMM (topology, positions): a capped peptide or the protein it was trained on."""
    from gen3d.samplers.equijump import load_jump_model

    _, card = load_jump_model(checkpoint)
    residues = card["data"]["residues"]
    if residues[0] == "ACE" and residues[-1] == "NME":
        from gen3d.data.residues import ONE_LETTER
        from gen3d.md import build_capped_peptide

        return build_capped_peptide("".join(ONE_LETTER[r] for r in residues[1:-1])), card
    raise SystemExit(f"pass --pdb for {card['name']} (residues {'-'.join(residues)})")


def _start_protein(checkpoint: str, pdb: str | None):
    """The start structure as a gen3d Protein (with hydrogens, as OpenMM prepares it)."""
    import tempfile

    from gen3d.io.pdb import read_protein
    from gen3d.md.system import fix_structure, pdb_text

    top, pos = fix_structure(pdb) if pdb else _start(checkpoint)[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/start.pdb"
        with open(path, "w") as handle:
            handle.write(pdb_text(top, pos))
        return read_protein(path)


def openmm(checkpoint: str, platform: str, kernel: str, seconds: float, pdb: str | None) -> dict:
    from openmm import unit

    from gen3d.md import MDProtocol
    from gen3d.md.system import fix_structure, simulation_for

    start = fix_structure(pdb) if pdb else _start(checkpoint)[0]
    sim = simulation_for(*start, MDProtocol(gb_kernel=kernel), 0, platform, threads=1)
    sim.minimizeEnergy(maxIterations=200)
    sim.context.setVelocitiesToTemperature(300 * unit.kelvin, 0)
    sim.step(200)
    steps, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        sim.step(500)
        steps += 500
    wall = time.perf_counter() - began
    ns = steps * 2e-6
    return {"name": f"openmm-{platform}-{kernel}", "device": "cpu", "batch": 1, "ns_per_s": ns / wall, "peak_mib": _peak("cpu"),
            "atoms": start[0].getNumAtoms()}


def rollout(checkpoint: str, device: str, walkers: int, jumps: int, steps: int | None, mode: str | None, pdb: str | None) -> dict:
    """Rollout speed with the given settings; None takes the card's sampling settings (what its metrics used)."""
    import torch

    from gen3d.samplers.equijump import DynamicsSampler, card_settings, load_jump_model, match_topology

    torch.set_num_threads(1)

    model, card = load_jump_model(checkpoint)
    sampler = DynamicsSampler(model, card, jumps=jumps, settings=card_settings(card, mode, None, steps))
    mode, steps = sampler.settings.mode, sampler.settings.steps
    start = match_topology(_start_protein(checkpoint, pdb), sampler.card)
    list(sampler.rollout(start, walkers, 1, device=device))  # warm-up
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in sampler.rollout(start, walkers, jumps, device=device):
        pass
    if device == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - began
    ns = walkers * jumps * sampler.tau_ps / 1000
    return {"name": f"equijump-{mode}-{steps}steps", "device": device, "batch": walkers, "ns_per_s": ns / wall,
            "peak_mib": _peak(device), "tau_ps": sampler.tau_ps, "ms_per_jump": 1000 * wall / jumps,
            "rejected_fraction": sampler.stats.as_dict(walkers * jumps)["rejected_fraction"]}


def _child(kind: str, **kwargs) -> dict:
    """Run one measurement in a fresh process (its own peak memory)."""
    code = f"import json, sys; sys.path.insert(0, 'benchmarks'); import dynamics as d; print(json.dumps(d.{kind}(**{kwargs!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="equijump-ala2")
    parser.add_argument("--pdb", default=None, help="start structure for systems that are not capped peptides")
    parser.add_argument("--walkers", type=int, default=100)
    parser.add_argument("--jumps", type=int, default=20)
    parser.add_argument("--steps", type=int, default=None, help="integration steps per jump (default: the card's)")
    parser.add_argument("--modes", nargs="+", default=["card"], choices=["card", "ode", "sde"],
                        help="sampling modes to time; card: the card's sampling settings")
    parser.add_argument("--seconds", type=float, default=20.0, help="OpenMM timing per configuration")
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    args = parser.parse_args()
    rows = []
    for platform in ("Reference", "CPU"):
        for kernel in ("native", "custom"):
            rows.append(_child("openmm", checkpoint=args.checkpoint, platform=platform, kernel=kernel,
                               seconds=args.seconds if kernel == "native" else args.seconds / 2, pdb=args.pdb))
            print(f"{rows[-1]['name']}, cpu, 1, {rows[-1]['ns_per_s']:.4f} ns/s, {rows[-1]['peak_mib']:.0f} MiB", flush=True)
    best = max(rows, key=lambda r: r["ns_per_s"])
    for device in args.devices:
        for mode in args.modes:
            r = _child("rollout", checkpoint=args.checkpoint, device=device, walkers=args.walkers, jumps=args.jumps,
                       steps=args.steps, mode=None if mode == "card" else mode, pdb=args.pdb)
            r["speedup_vs_best_openmm"] = r["ns_per_s"] / best["ns_per_s"]
            rows.append(r)
            print(f"{r['name']}, {device}, {args.walkers}, {r['ns_per_s']:.3f} ns/s, {r['peak_mib']:.0f} MiB, "
                  f"{r['ms_per_jump']:.0f} ms/jump, {r['speedup_vs_best_openmm']:.0f}x best OpenMM ({best['name']})", flush=True)
    print(json.dumps({"best_openmm": best, "rows": rows}))


if __name__ == "__main__":
    main()
