"""One jump from many equilibrium frames: the quality of the jump kernel alone, apart from compounding.

Starts are every ``--stride``-th frame of a reference MD folder (already at equilibrium); each
makes one jump (no jump checks) and the phi/psi histogram of the endpoints is scored against the
whole reference (36 x 36 JS, nats). The starts' own score is the finite-sample floor. A kernel
that is right keeps the equilibrium, so its score stays near the floor. Peptides only.
Prints the score, the floor, basin populations and the jump throughput.

    python benchmarks/dynamics_one_jump.py --reference runs/md/ala2-ref-s2 [--checkpoint equijump-ala2] [--mode ode|sde] [--steps 8] [--eps 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from gen3d.data.md_frames import load_trajectories
from gen3d.metrics.dynamics_distributions import basin_populations, js_2d
from gen3d.metrics.dynamics_observables import backbone_quads, phi_psi
from gen3d.samplers.equijump import DynamicsSampler, JumpSettings

RANGES = [(-180.0, 180.0), (-180.0, 180.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="equijump-ala2")
    parser.add_argument("--reference", required=True)
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
    quads = backbone_quads(reference.topology)
    starts = reference.frames[:: args.stride][: args.starts]
    sampler = DynamicsSampler.from_checkpoint(args.checkpoint, settings=JumpSettings(mode=args.mode, steps=args.steps, eps=args.eps, retries=0))
    generator = torch.Generator().manual_seed(args.seed)
    x0 = torch.as_tensor(starts - starts.mean(1, keepdims=True), dtype=torch.float32)
    began = time.perf_counter()
    ends = torch.cat([sampler.jump(x0[i : i + args.batch], generator) for i in range(0, len(x0), args.batch)]).numpy()
    seconds = time.perf_counter() - began
    ref = phi_psi(reference.frames, quads)
    out = phi_psi(ends.astype(np.float64), quads)
    print(json.dumps({
        "checkpoint": args.checkpoint, "mode": args.mode, "steps": args.steps, "eps": args.eps if args.mode == "sde" else None,
        "starts": len(starts), "one_jump_js_phi_psi": round(js_2d(out, ref, 36, RANGES), 4),
        "floor_js_of_starts": round(js_2d(phi_psi(starts, quads), ref, 36, RANGES), 4),
        "basins": basin_populations(out[:, 0], out[:, 1]), "reference_basins": basin_populations(ref[:, 0], ref[:, 1]),
        "jumps_per_s": round(len(starts) / seconds, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
