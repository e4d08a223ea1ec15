"""Protein tasks of the Python API: build a dataset, train, reconstruct, interpolate, sample, score.

    from gen3d import api
    report = api.reconstruct_protein("in.pdb", "out.pdb")
    frames = api.interpolate_proteins("closed.pdb", "open.pdb", 20, "path.pdb")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from gen3d.data.protein_chains import ProteinError, ResidueChain, protein_from_chains, residue_chains

chains_to_protein = protein_from_chains
from gen3d.io.errors import InputError
from gen3d.structures import Protein, Trajectory
from gen3d.structures.superpose import kabsch, rmsd

DEFAULT_AUTOENCODER = "ophiuchus-pdb-x2"
DEFAULT_DENOISER = "ophiuchus-miniproteins"

__all__ = [
    "DEFAULT_AUTOENCODER", "DEFAULT_DENOISER", "build_protein_dataset", "interpolate_proteins", "read_chains",
    "reconstruct_protein", "sample_proteins", "test_autoencoder", "train_proteins",
]


def read_chains(path: str | os.PathLike) -> tuple[Protein, list[ResidueChain]]:
    """A structure file's protein chains (strict: non-standard residues or missing backbone are errors)."""
    from gen3d.io.pdb import read_protein

    protein = read_protein(path)
    try:
        return protein, residue_chains(protein, strict=True)
    except ProteinError as err:
        raise InputError(path, str(err)) from None


def _compare(pred: list[ResidueChain], true: list[ResidueChain]) -> dict:
    from gen3d.metrics.reconstruction import compare_chains

    per_chain = [{"chain": t.chain_id, "residues": len(t), **compare_chains(p, t)} for p, t in zip(pred, true)]
    weights = np.array([c["residues"] for c in per_chain], dtype=float)
    total = {k: float(np.average([c[k] for c in per_chain], weights=weights)) for k in ("gdt_ts", "recovery")}
    for k in ("ca_rmsd", "all_atom_rmsd"):  # pooled over residues, not averaged RMSDs
        total[k] = float(np.sqrt(np.average([c[k] ** 2 for c in per_chain], weights=weights)))
    return {"n": len(per_chain), "metrics": {"residues": int(weights.sum()), **total}, "per_item": per_chain}


def reconstruct_protein(inp: str | os.PathLike, out: str | os.PathLike, *, checkpoint: str = DEFAULT_AUTOENCODER, device: str = "auto") -> dict:
    """Encode and decode every protein chain of ``inp``; write the decoded structure; return the errors."""
    from gen3d.io.pdb import write_protein
    from gen3d.samplers.ophiuchus import ProteinAutoencoder

    _, chains = read_chains(inp)
    auto = ProteinAutoencoder.from_checkpoint(checkpoint, device)
    decoded = auto.reconstruct(chains)
    write_protein(out, chains_to_protein(decoded, Path(inp).stem))
    report = _compare(decoded, chains)
    report["metrics"]["compression"] = auto.compression
    return report


def test_autoencoder(
    checkpoint: str, dataset: str | os.PathLike, *, split: str = "test", device: str = "auto", batch_size: int = 8,
    on_chain: Callable[[], None] | None = None,
) -> dict:
    """Reconstruction errors of every whole segment of a dataset split (the numbers model cards report)."""
    from gen3d.data.protein_corpus import load_fragments
    from gen3d.samplers.ophiuchus import ProteinAutoencoder

    data = load_fragments(dataset)
    segments = data.indices(split)
    if not len(segments):
        raise InputError(dataset, f"has no {split!r} segments")
    auto = ProteinAutoencoder.from_checkpoint(checkpoint, device)
    order = segments[np.argsort(data.lengths[segments])]  # similar lengths together: little padding
    per_item = []
    for i in range(0, len(order), batch_size):
        chains = [data.segment(int(s)) for s in order[i : i + batch_size]]
        for seg, pred, true in zip(order[i : i + batch_size], auto.reconstruct(chains), chains):
            per_item.append({"entry": str(data.entries[seg]), "chain": true.chain_id, "residues": len(true),
                             **_compare([pred], [true])["metrics"]})
            if on_chain:
                on_chain()
    weights = np.array([r["residues"] for r in per_item], dtype=float)
    metrics = {"segments": len(per_item), "entries": len({r["entry"] for r in per_item}), "residues": int(weights.sum())}
    for k in ("ca_rmsd", "all_atom_rmsd"):
        metrics[k] = float(np.sqrt(np.average([r[k] ** 2 for r in per_item], weights=weights)))
        metrics[f"{k}_median"] = float(np.median([r[k] for r in per_item]))
    for k in ("gdt_ts", "recovery"):
        metrics[k] = float(np.average([r[k] for r in per_item], weights=weights))
    metrics["compression"] = auto.compression
    return {"n": len(per_item), "metrics": metrics, "per_item": per_item}


def _matched(a: list[ResidueChain], b: list[ResidueChain], pa: str, pb: str) -> None:
    """Raise a one-line InputError unless both structures hold the same chains with the same sequences."""
    if len(a) != len(b):
        raise InputError(pb, f"has {len(b)} protein chains; {Path(pa).name} has {len(a)}")
    for ca, cb in zip(a, b):
        if ca.sequence != cb.sequence:
            k = next((i for i, (x, y) in enumerate(zip(ca.sequence, cb.sequence)) if x != y), min(len(ca), len(cb)))
            raise InputError(pb, f"sequence differs from {Path(pa).name} (chain {cb.chain_id or '_'}: {len(cb)} vs {len(ca)} residues, first difference at position {k + 1})")


def _superposed(mobile: list[ResidueChain], target: list[ResidueChain]) -> list[ResidueChain]:
    """``mobile`` moved onto ``target`` by the Cα superposition of all chains together."""
    rot, t = kabsch(np.concatenate([c.coords[:, 1] for c in mobile]), np.concatenate([c.coords[:, 1] for c in target]))
    return [replace(c, coords=((c.coords @ rot.T + t) * c.mask[..., None]).astype(np.float32)) for c in mobile]


def _ca(chains: list[ResidueChain]) -> np.ndarray:
    return np.concatenate([c.coords[:, 1] for c in chains])


def _frame_row(chains: list[ResidueChain], start: list[ResidueChain], end: list[ResidueChain]) -> dict:
    from gen3d.metrics.proteins import score_protein

    record, _ = score_protein(chains_to_protein(chains))
    keep = ("chain_breaks", "clashes", "clash_score", "bond_length_outliers", "bond_angle_outliers")
    row = {k: record[k] for k in keep if k in record}
    row.update(rmsd_to_start=rmsd(_ca(chains), _ca(start)), rmsd_to_end=rmsd(_ca(chains), _ca(end)))
    return row


def interpolate_proteins(
    a: str | os.PathLike, b: str | os.PathLike, frames: int, out: str | os.PathLike,
    *, checkpoint: str = DEFAULT_AUTOENCODER, path: str = "geodesic", refine_steps: int = 20, device: str = "auto",
    on_frame: Callable[[], None] | None = None,
) -> dict:
    """Latent interpolation A -> B (B superposed on A by Cα) into a multi-model PDB; per-frame Cα RMSD to both
    ends and geometry checks, next to straight Cartesian interpolation of the same superposed atoms.

    ``path``: ``geodesic`` (features turned with each coarse node's local rotation) or ``linear``;
    ``refine_steps``: steric refinement steps per frame's latent (0: decode the path as it is).
    ``on_frame`` is called once per decoded frame and once per scored frame."""
    from gen3d.samplers.latent_paths import PATHS
    from gen3d.samplers.latent_refinement import Refinement

    from gen3d.io.pdb import write_trajectory
    from gen3d.samplers.ophiuchus import ProteinAutoencoder

    if frames < 2:
        raise InputError(out, "--frames must be at least 2")
    if path not in PATHS:
        raise InputError(path, f"unknown --path (known: {', '.join(PATHS)})")
    if refine_steps < 0:
        raise InputError(str(refine_steps), "--refine-steps must be 0 or more")
    _, start = read_chains(a)
    _, end = read_chains(b)
    _matched(start, end, str(a), str(b))
    end = _superposed(end, start)
    auto = ProteinAutoencoder.from_checkpoint(checkpoint, device)
    decoded = auto.interpolate(start, end, frames, path, Refinement(steps=refine_steps), on_frame)
    proteins = [chains_to_protein(f) for f in decoded]
    topology = proteins[0]
    if any(len(p) != len(topology) or not np.array_equal(p.atom_names, topology.atom_names) for p in proteins):
        proteins = _common_atoms(proteins)
        topology = proteins[0]
    write_trajectory(out, Trajectory(topology, np.stack([p.positions for p in proteins]), np.arange(frames, dtype=float)))
    rows = []
    for k, chains in enumerate(decoded):
        w = k / (frames - 1)
        linear = [replace(s, coords=((1 - w) * s.coords + w * e.coords).astype(np.float32), mask=s.mask & e.mask) for s, e in zip(start, end)]
        rows.append({"frame": k, "latent": _frame_row(chains, start, end), "cartesian": _frame_row(linear, start, end)})
        if on_frame:
            on_frame()
    settings = {"path": path, "refine_steps": refine_steps}
    return {"n": frames, "metrics": {**settings, **_interpolation_summary(rows)}, "per_item": rows}


def _common_atoms(proteins: list[Protein]) -> list[Protein]:
    """Restrict frames to the atoms (chain, residue, name) present in every frame, so they share one topology."""
    keys = [set(zip(p.chain_ids, p.residue_numbers, p.atom_names)) for p in proteins]
    common = set.intersection(*keys)
    out = []
    for p in proteins:
        keep = np.array([k in common for k in zip(p.chain_ids, p.residue_numbers, p.atom_names)])
        out.append(Protein(p.chain_ids[keep], p.residue_numbers[keep], p.insertion_codes[keep], p.residue_names[keep],
                           p.atom_names[keep], p.elements[keep], p.positions[keep], name=p.name))
    return out


def _monotone(values: list[float], rising: bool, tolerance: float) -> bool:
    diffs = np.diff(values) if rising else -np.diff(values)
    return bool((diffs >= -tolerance).all())


MONOTONE_TOLERANCE = 0.1  # Å: a step of the RMSD to an end may go the wrong way by at most this much
CLASH_TOLERANCE = 1.0  # clashes per 1,000 atoms a frame may exceed the worse end frame by


def _interpolation_summary(rows: list[dict]) -> dict:
    out = {}
    for kind in ("latent", "cartesian"):
        series = [r[kind] for r in rows]
        out[f"{kind}_frames_with_breaks"] = sum(s.get("chain_breaks", 0) > 0 for s in series)
        out[f"{kind}_max_clash_score"] = max(s.get("clash_score", 0.0) for s in series)
        worse_end = max(series[0].get("clash_score", 0.0), series[-1].get("clash_score", 0.0))
        out[f"{kind}_clash_within_tolerance"] = out[f"{kind}_max_clash_score"] <= worse_end + CLASH_TOLERANCE
        out[f"{kind}_start_rmsd_monotone"] = _monotone([s["rmsd_to_start"] for s in series], True, MONOTONE_TOLERANCE)
        out[f"{kind}_end_rmsd_monotone"] = _monotone([s["rmsd_to_end"] for s in series], False, MONOTONE_TOLERANCE)
    out["monotone_tolerance_A"] = MONOTONE_TOLERANCE
    out["clash_tolerance_per_1000_atoms"] = CLASH_TOLERANCE
    return out


def build_protein_dataset(
    source: str | os.PathLike, out: str | os.PathLike, *, min_length: int = 30, max_length: int = 1000,
    on_file: Callable[[Path, str], None] | None = None,
) -> dict:
    """Parse a folder of PDB/mmCIF files into a fragment dataset (split by entry); return its summary."""
    from gen3d.data.protein_corpus import build_fragments, save_fragments, split_rule, structure_files

    files = structure_files(source)
    skipped: list[tuple[str, str]] = []

    def seen(path: Path, reason: str) -> None:
        if reason:
            skipped.append((path.name, reason))
        if on_file:
            on_file(path, reason)

    data = build_fragments(files, min_length, max_length, on_file=seen)
    save_fragments(out, data)
    metrics = {"files": len(files), "skipped_files": len(skipped), "segments": len(data), "residues": int(data.lengths.sum()),
               "whole_chains": int(data.whole.sum())}
    metrics.update({f"{s}_segments": int(len(data.indices(s))) for s in ("train", "valid", "test")})
    return {"n": len(data), "metrics": metrics, "split": split_rule(), "skipped": skipped}


def train_proteins(
    config: str | os.PathLike, overrides: list[str], out_dir: str | os.PathLike, *, device: str = "auto", echo=print, on_step=None
) -> dict:
    """Train (or resume) the autoencoder described by a TOML config file (with ``section.key=value`` overrides)."""
    from gen3d.samplers.base import resolve_device
    from gen3d.train.config import load_config
    from gen3d.train.ophiuchus import train_ophiuchus

    cfg = load_config(Path(config), overrides)
    kind = cfg.get("kind", "autoencoder")
    if kind == "latent-ddpm":
        from gen3d.train.latent_diffusion import train_latent_diffusion

        return train_latent_diffusion(cfg, Path(out_dir), resolve_device(device), echo=echo, on_step=on_step)
    if kind == "type-readout":
        from gen3d.train.ophiuchus_readout import train_type_readout

        return train_type_readout(cfg, Path(out_dir), resolve_device(device), echo=echo, on_step=on_step)
    if kind == "structure-classifier":
        from gen3d.train.structure_classifier import train_structure_classifier

        return train_structure_classifier(cfg, Path(out_dir), resolve_device(device), echo=echo, on_step=on_step)
    if kind == "decoder":
        from gen3d.train.ophiuchus_decoder import train_noisy_decoder

        return train_noisy_decoder(cfg, Path(out_dir), resolve_device(device), echo=echo, on_step=on_step)
    if kind != "autoencoder":
        raise InputError(config, f"unknown kind {kind!r} (autoencoder, latent-ddpm, type-readout, decoder or structure-classifier)")
    return train_ophiuchus(cfg, Path(out_dir), resolve_device(device), echo=echo, on_step=on_step)


def sample_proteins(
    out_dir: str | os.PathLike, num: int, *, lengths: tuple[int, int] = (40, 70), checkpoint: str = DEFAULT_DENOISER,
    scheduler: str | None = None, steps: int | None = None, eta: float | None = None, noise_scale: float | None = None,
    guidance: float | None = None, guide: str | None = None, relax: bool = True, seed: int = 0, batch_size: int = 16, device: str = "auto", on_protein: Callable[[], None] | None = None,
) -> dict:
    """Sample ``num`` miniproteins into ``out_dir`` (one PDB each, written atomically as they come). Unset sampling
    options take the defaults of :func:`gen3d.samplers.ophiuchus_ddpm.sampling_for`; ``guide`` names the structure
    classifier (default: the shipped one) used when ``guidance`` > 0; ``relax`` Amber-minimises each."""
    import time

    from gen3d.io.pdb import write_protein
    from gen3d.md.relax import Relaxation
    from gen3d.samplers.ophiuchus_ddpm import MiniproteinSampler, sampling_for

    sampling = sampling_for(scheduler, steps, eta, noise_scale, guidance)
    sampler = MiniproteinSampler.from_checkpoint(checkpoint, lengths=lengths, sampling=sampling, guide=guide,
                                                 relax=Relaxation() if relax else None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, files = time.perf_counter(), []
    for k, protein in enumerate(sampler.sample(num, seed=seed, batch_size=batch_size, device=device)):
        path = out / f"sample_{k:04d}.pdb"
        write_protein(path, protein)
        files.append(str(path))
        if on_protein:
            on_protein()
    label = f"{sampling.scheduler}, {sampling.steps or 'default'} steps" + (
        f", eta {sampling.eta:g}, noise scale {sampling.noise_scale:g}" if sampling.scheduler == "ddim" else "") + (
        f", structure guidance {sampling.guidance:g}" if sampling.guidance > 0 else "")
    return {"files": files, "seconds": time.perf_counter() - start, "scheduler": label + (", Amber-relaxed" if relax else ""),
            "sampling": sampling.to_dict(), "relax": relax}
