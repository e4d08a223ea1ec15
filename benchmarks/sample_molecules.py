"""Sampling throughput of the shipped Symphony checkpoint.

Prints one line per measurement: ``name, device, batch, items/s, peak MiB``. Each measurement
runs in a fresh process so that CPU peak memory (max RSS) belongs to that measurement alone;
on CUDA the peak is ``torch.cuda.max_memory_allocated``. Bond perception and file writing are
not included (see ``gen3d molecules sample`` for end-to-end time).

    python benchmarks/sample_molecules.py [--checkpoint symphony-qm9] [--devices cpu cuda] [--batches 1 64 1024]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(checkpoint: str, device: str, batch: int, num: int, threads: int) -> dict:
    """Sample ``num`` molecules in batches of ``batch``; returns throughput and peak memory."""
    import torch

    from gen3d.samplers.symphony import SymphonySampler

    torch.set_num_threads(threads)
    sampler = SymphonySampler.from_checkpoint(checkpoint)
    warm = min(batch, 8)
    list(sampler.sample(warm, seed=1, batch_size=warm, device=device))  # warm-up (allocations, kernels)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    atoms = sum(len(m) for m in sampler.sample(num, seed=0, batch_size=batch, device=device))
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"molecules_per_s": num / seconds, "atoms_per_s": atoms / seconds, "seconds": seconds, "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="symphony-qm9")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64, 1024])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        device, batch, num = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(measure(args.checkpoint, device, batch, num, args.threads)))
        return
    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print("name, device, batch, items/s, peak MiB")
    for device in devices:
        for batch in args.batches:
            num = max(batch, 16) if device == "cpu" else max(batch, 256)
            cmd = [sys.executable, __file__, "--checkpoint", args.checkpoint, "--threads", str(args.threads),
                   "--child", device, str(batch), str(num)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            print(f"symphony-sample, {device}, {batch}, {r['molecules_per_s']:.1f}, {r['peak_mib']:.0f}", flush=True)


if __name__ == "__main__":
    main()
