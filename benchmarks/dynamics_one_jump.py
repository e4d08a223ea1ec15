"""One jump from many equilibrium frames: the quality of the jump kernel alone, apart from compounding.

Starts are every ``--stride``-th frame of a reference MD folder (already at equilibrium); each
makes one jump (no jump checks) and the phi/psi histogram of the endpoints is scored against the
whole reference (36 x 36 JS, nats). The starts' own score is the finite-sample floor. A kernel
that is right keeps the equilibrium, so its score stays near the floor. Prints the score, the
floor, basin populations and the jump throughput.

Proteins (``--protein``): each start's jump is set beside the MD frame tau later, as mean and s.d.
of the jump's RMSD, the change of radius of gyration and the Cα RMSD to native after the jump; the
endpoints are scored raw and after the covalent projection onto the card's mean lengths and onto
the native's (the comparison that showed crystal bond lengths shrink a rollout).

    python benchmarks/dynamics_one_jump.py --reference runs/md/ala2-ref-s2 [--checkpoint equijump-ala2] [--mode ode|sde] [--steps 8] [--eps 1]
    python benchmarks/dynamics_one_jump.py --protein --checkpoint equijump-cln025 --reference runs/md/cln025-s20 --native CLN025.pdb --mode sde --steps 32 --stride 8
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from gen3d.data.md_frames import kabsch_align, load_trajectories, match_atoms
from gen3d.metrics.dynamics_distributions import basin_populations, js_2d
from gen3d.metrics.dynamics_observables import backbone_quads, phi_psi, radius_of_gyration, rmsd_to
from gen3d.samplers.covalent_projection import CovalentProjection
from gen3d.samplers.equijump import DynamicsSampler, JumpSettings

RANGES = [(-180.0, 180.0), (-180.0, 180.0)]


def _jumps(sampler: DynamicsSampler, starts: np.ndarray, batch: int, seed: int) -> tuple[np.ndarray, float]:
    """One jump from every start (centred), in batches; (ends, seconds)."""
    generator = torch.Generator().manual_seed(seed)
    x0 = torch.as_tensor(starts - starts.mean(1, keepdims=True), dtype=torch.float32)
    began = time.perf_counter()
    ends = torch.cat([sampler.jump(x0[i : i + batch], generator) for i in range(0, len(x0), batch)]).numpy()
    return ends.astype(np.float64), time.perf_counter() - began


def _peptide(args, reference, sampler) -> dict:
    quads = backbone_quads(reference.topology)
    starts = reference.frames[:: args.stride][: args.starts]
    ends, seconds = _jumps(sampler, starts, args.batch, args.seed)
    ref = phi_psi(reference.frames, quads)
    out = phi_psi(ends, quads)
    return {
        "starts": len(starts), "one_jump_js_phi_psi": round(js_2d(out, ref, 36, RANGES), 4),
        "floor_js_of_starts": round(js_2d(phi_psi(starts, quads), ref, 36, RANGES), 4),
        "basins": basin_populations(out[:, 0], out[:, 1]), "reference_basins": basin_populations(ref[:, 0], ref[:, 1]),
        "jumps_per_s": round(len(starts) / seconds, 1),
    }


def _summary(ends: np.ndarray, starts: np.ndarray, native: np.ndarray, ca: np.ndarray) -> dict:
    jump = np.sqrt(((kabsch_align(ends, starts) - starts) ** 2).sum(-1).mean(-1))
    drg = radius_of_gyration(ends) - radius_of_gyration(starts)
    nat = rmsd_to(ends, native, ca)
    return {k: f"{v.mean():.3f} +- {v.std():.3f}" for k, v in (("jump_rmsd", jump), ("delta_rg", drg), ("ca_rmsd_to_native", nat))}


def _protein(args, reference, sampler) -> dict:
    lag = int(round(sampler.tau_ps / reference.dt_ps))
    pairs = [(t[i], t[i + lag]) for t in reference.trajectories for i in range(0, len(t) - lag, args.stride)][: args.starts]
    starts, after = (np.stack(x) for x in zip(*pairs))
    native_data = load_trajectories(args.native) if args.native else reference
    native = native_data.trajectories[0][0][match_atoms(native_data.topology, reference.topology)]
    ca = np.flatnonzero(reference.topology.atom_names == "CA")
    ends, seconds = _jumps(sampler, starts, args.batch, args.seed)
    centred = starts - starts.mean(1, keepdims=True)
    rows = {"md": _summary(after, centred, native, ca), "model_raw": _summary(ends, centred, native, ca)}
    for name, projection in (("model_projected_card_lengths", sampler.projection(native)), ("model_projected_native_lengths", CovalentProjection.for_start(native))):
        rows[name] = _summary(projection(torch.as_tensor(ends)).numpy(), centred, native, ca)
    return {"starts": len(starts), "lag_frames": lag, "mean_sd": rows, "jumps_per_s": round(len(starts) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="equijump-ala2")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--protein", action="store_true", help="jump statistics beside the MD frame tau later (see above)")
    parser.add_argument("--native", default=None, help="native PDB for --protein (default: the first reference frame)")
    parser.add_argument("--starts", type=int, default=4000)
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--mode", default="ode", choices=["ode", "sde"])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--eps", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    reference = load_trajectories(args.reference)
    sampler = DynamicsSampler.from_checkpoint(args.checkpoint, settings=JumpSettings(mode=args.mode, steps=args.steps, eps=args.eps, retries=0))
    report = (_protein if args.protein else _peptide)(args, reference, sampler)
    print(json.dumps({"checkpoint": args.checkpoint, "mode": args.mode, "steps": args.steps,
                      "eps": args.eps if args.mode == "sde" else None, **report}, indent=1))


if __name__ == "__main__":
    main()
