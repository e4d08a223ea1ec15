"""Protein throughput and scaling of the shipped Ophiuchus checkpoints.

Prints one line per measurement: ``name, device, batch, items/s, peak MiB`` (encode lines also
give the length and milliseconds per structure). Each measurement runs in a fresh process so the
CPU peak (max RSS) belongs to it alone; on CUDA the peak is ``torch.cuda.max_memory_allocated``.
Structures are synthetic: real chains from the MDAnalysisTests package tiled to the wanted length
(encode cost depends on length and neighbour count, not on the fold).

    python benchmarks/proteins.py [--devices cpu cuda] [--what reconstruct sample sample-relaxed interpolate encode]

``sample`` lines time latent sampling and decoding (default settings: 500 DDIM steps); ``sample-relaxed``
adds the default Amber relaxation of each structure (the CLI's default). ``interpolate`` lines give frames per second (214 residues, geodesic path, 20 refinement steps per frame).
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


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _chain(length: int):
    """A chain of ``length`` residues: a real 4gcnA chain repeated along a line (only cost matters)."""
    import importlib.util
    from dataclasses import replace
    from pathlib import Path

    import numpy as np

    from gen3d.data.protein_chains import residue_chains
    from gen3d.io.pdb import read_protein

    spec = importlib.util.find_spec("MDAnalysisTests")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "dssp" / "4gcnA.pdb.gz"
    (base,) = residue_chains(read_protein(path))
    reps = -(-length // len(base))
    coords = np.concatenate([base.coords + np.array([40.0 * k, 0, 0], dtype=np.float32) * base.mask[..., None] for k in range(reps)])[:length]
    tile = lambda x: np.concatenate([x] * reps)[:length]  # noqa: E731
    return replace(base, aatype=tile(base.aatype), coords=coords, mask=tile(base.mask),
                   residue_numbers=np.arange(1, length + 1), insertion_codes=np.full(length, "", dtype=str))


def reconstruct(device: str, batch: int, checkpoint: str) -> dict:
    from gen3d.samplers.ophiuchus import ProteinAutoencoder

    auto = ProteinAutoencoder.from_checkpoint(checkpoint, device)
    chains = [_chain(64) for _ in range(batch)]
    auto.reconstruct(chains[:1])
    _sync(device)
    start = time.perf_counter()
    rounds = max(1, 32 // batch)
    for _ in range(rounds):
        auto.reconstruct(chains)
    _sync(device)
    return {"items_per_s": rounds * batch / (time.perf_counter() - start), "peak_mib": _peak(device)}


def sample(device: str, batch: int, checkpoint: str, relax: bool = False) -> dict:
    """Default sampling settings; ``relax`` adds the default Amber relaxation (OpenMM Reference platform, on the CPU)."""
    from gen3d.md.relax import Relaxation
    from gen3d.samplers.ophiuchus_ddpm import MiniproteinSampler

    sampler = MiniproteinSampler.from_checkpoint(checkpoint, relax=Relaxation() if relax else None)
    list(sampler.sample(1, seed=1, batch_size=1, device=device))
    _sync(device)
    start = time.perf_counter()
    n = max(batch, 8)
    list(sampler.sample(n, seed=0, batch_size=batch, device=device))
    _sync(device)
    return {"items_per_s": n / (time.perf_counter() - start), "peak_mib": _peak(device)}


def interpolate(device: str, frames: int, checkpoint: str) -> dict:
    """Frames per second of a 214-residue latent path with the default geodesic path and steric refinement."""
    from dataclasses import replace

    import numpy as np

    from gen3d.samplers.ophiuchus import ProteinAutoencoder

    auto = ProteinAutoencoder.from_checkpoint(checkpoint, device)
    start = _chain(214)
    shift = np.random.default_rng(0).normal(0, 1.0, start.coords.shape).astype(np.float32) * start.mask[..., None]
    end = replace(start, coords=start.coords + shift)
    auto.interpolate([start], [end], 2)
    _sync(device)
    t0 = time.perf_counter()
    auto.interpolate([start], [end], frames)
    _sync(device)
    return {"items_per_s": frames / (time.perf_counter() - t0), "peak_mib": _peak(device)}


def encode(device: str, length: int, checkpoint: str) -> dict:
    from gen3d.samplers.ophiuchus import ProteinAutoencoder

    auto = ProteinAutoencoder.from_checkpoint(checkpoint, device)
    chain = _chain(length)
    auto.encode([chain])
    _sync(device)
    start, reps = time.perf_counter(), 5
    for _ in range(reps):
        auto.encode([chain])
    _sync(device)
    ms = 1000 * (time.perf_counter() - start) / reps
    return {"items_per_s": 1000 / ms, "ms": ms, "peak_mib": _peak(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--what", nargs="+", default=["reconstruct", "sample", "sample-relaxed", "interpolate", "encode"])
    parser.add_argument("--autoencoder", default="ophiuchus-pdb-x2")
    parser.add_argument("--denoiser", default="ophiuchus-miniproteins")
    parser.add_argument("--encode-checkpoints", nargs="+", default=["ophiuchus-pdb-x2", "ophiuchus-pdb-x8"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        what, device, size, ckpt = args.child
        jobs = {"reconstruct": reconstruct, "sample": sample, "interpolate": interpolate, "encode": encode,
                "sample-relaxed": lambda d, b, c: sample(d, b, c, relax=True)}
        print(json.dumps(jobs[what](device, int(size), ckpt)))
        return
    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print("name, device, batch, items/s, peak MiB")
    for device in devices:
        jobs = []
        if "reconstruct" in args.what:
            jobs += [("reconstruct", b, args.autoencoder) for b in (1, 16)]
        if "sample" in args.what:
            jobs += [("sample", b, args.denoiser) for b in (1, 16)]
        if "sample-relaxed" in args.what:
            jobs += [("sample-relaxed", 16, args.denoiser)]
        if "interpolate" in args.what:
            jobs += [("interpolate", 20, args.autoencoder)]
        if "encode" in args.what:
            jobs += [("encode", n, c) for c in args.encode_checkpoints for n in (64, 128, 256, 512, 1024)]
        for what, size, ckpt in jobs:
            cmd = [sys.executable, __file__, "--threads", str(args.threads), "--child", what, device, str(size), ckpt]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode:
                print(f"{what}, {device}, {size}, failed: {run.stderr.strip().splitlines()[-1] if run.stderr else run.returncode}")
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            if what == "encode":
                print(f"encode-{ckpt} L={size}, {device}, 1, {r['items_per_s']:.2f}, {r['peak_mib']:.0f}  ({r['ms']:.1f} ms)", flush=True)
            else:
                print(f"{what}-{ckpt}, {device}, {size}, {r['items_per_s']:.2f}, {r['peak_mib']:.0f}", flush=True)


if __name__ == "__main__":
    main()
