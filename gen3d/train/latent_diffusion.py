"""Latent DDPM for miniproteins: encode whole small chains with a trained Ophiuchus autoencoder once,
then train the denoiser on those latents. The card records the autoencoder it depends on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from e3nn import o3

from gen3d.checkpoints import resolve, save_checkpoint, sha256_of
from gen3d.data.protein_corpus import FragmentSet, load_fragments, split_rule
from gen3d.models.ophiuchus.diffusion import VERSION, DiffusionConfig, LatentDiffusion
from gen3d.models.ophiuchus.schedulers import SCHEDULERS, scheduler_config
from gen3d.samplers.ophiuchus import ProteinAutoencoder
from gen3d.train.config import ConfigError, split_config
from gen3d.train.loop import TrainConfig, train, training_card
from gen3d.train.warm_start import start_weights


@dataclass
class LatentBatch:
    """Latents of a batch of chains: positions (B, N, 3) Å, features (B, N, D), mask (B, N)."""

    positions: torch.Tensor
    features: torch.Tensor
    mask: torch.Tensor

    def to(self, device) -> "LatentBatch":
        return LatentBatch(self.positions.to(device), self.features.to(device), self.mask.to(device))

    def rows(self, index) -> "LatentBatch":
        return LatentBatch(self.positions[index], self.features[index], self.mask[index])


def unique_chains(data: FragmentSet, segments: np.ndarray) -> np.ndarray:
    """One segment per (entry, sequence): identical copies of a chain in one entry count once."""
    seen, keep = set(), []
    for s in segments:
        a, b = data.offsets[s], data.offsets[s + 1]
        key = (str(data.entries[s]), data.aatype[a:b].tobytes())
        if key not in seen:
            seen.add(key)
            keep.append(s)
    return np.array(keep, dtype=np.int64)


def cat_padded(rows: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate batches ``(B_k, N_k, ...)`` along the batch axis, zero-padding the node axis to the longest."""
    n = max(x.shape[1] for x in rows)
    return torch.cat([torch.nn.functional.pad(x, (0, 0) * (x.dim() - 2) + (0, n - x.shape[1])) for x in rows])


@torch.no_grad()
def encode_segments(auto: ProteinAutoencoder, data: FragmentSet, segments: np.ndarray, batch: int = 32) -> LatentBatch:
    """Latents of whole segments (each centred), padded to the longest."""
    chains = [data.segment(int(s)) for s in segments]
    parts = []
    for i in range(0, len(chains), batch):
        latent, _ = auto.encode(chains[i : i + batch])
        parts.append(latent)
    return LatentBatch(*(cat_padded([getattr(p, k) for p in parts]).cpu() for k in ("positions", "features", "mask")))


def _concat(a: LatentBatch, b: LatentBatch) -> LatentBatch:
    """Rows of two latent batches, padded to the longer."""
    return LatentBatch(*(cat_padded([getattr(a, k), getattr(b, k)]) for k in ("positions", "features", "mask")))


def window_latents(auto: ProteinAutoencoder, data: FragmentSet, count: int, lengths: tuple[int, int], seed: int) -> LatentBatch:
    """Latents of ``count`` fixed random windows (``lengths`` residues) of longer training segments."""

    rng = np.random.default_rng([seed, 7])
    longer = data.indices("train", min_length=lengths[1] + 1)
    if not len(longer):
        raise ConfigError(f"data.windows needs training segments longer than {lengths[1]} residues; there are none")
    chosen = longer[rng.integers(len(longer), size=count)]
    chains = []
    for seg in chosen:
        chain = data.segment(int(seg))
        size = int(rng.integers(lengths[0], lengths[1] + 1))
        start = int(rng.integers(0, len(chain) - size + 1))
        chains.append(chain.slice(start, start + size))
    parts = [auto.encode(chains[i : i + 64])[0] for i in range(0, len(chains), 64)]
    out = LatentBatch(parts[0].positions, parts[0].features, parts[0].mask)
    for p in parts[1:]:
        out = _concat(out, LatentBatch(p.positions, p.features, p.mask))
    return LatentBatch(out.positions.cpu(), out.features.cpu(), out.mask.cpu())


class LatentDiffusionTask:
    """Random batches of training latents; validation loss on the validation chains at fixed noise."""

    def __init__(
        self, config: DiffusionConfig, autoencoder: str, data: FragmentSet, lengths: tuple[int, int], seed: int = 0,
        windows: int = 0, whole_fraction: float = 1.0,
    ) -> None:
        self.auto = ProteinAutoencoder.from_checkpoint(autoencoder, "cpu")
        expected = config.source_irreps or config.denoiser.latent_irreps
        if o3.Irreps(expected) != o3.Irreps(self.auto.model.config.irreps_latent):
            which = "source_irreps" if config.source_irreps else "denoiser.latent_irreps"
            raise ConfigError(f"model.{which} {expected!r} is not the autoencoder's latent {self.auto.model.config.irreps_latent!r}")
        self.lengths, self.whole_fraction = lengths, whole_fraction
        pick = lambda split: unique_chains(data, data.indices(split, lengths[0], lengths[1], whole=True))  # noqa: E731
        self.segments = {s: pick(s) for s in ("train", "valid", "test")}
        for split in ("train", "valid"):
            if not len(self.segments[split]):
                raise ConfigError(f"no whole {split} chains of {lengths[0]}-{lengths[1]} residues in the dataset")
        self.latents = {s: encode_segments(self.auto, data, idx) for s, idx in self.segments.items() if len(idx)}
        self.windows = window_latents(self.auto, data, windows, lengths, seed) if windows else None
        torch.manual_seed(seed)
        self.model = LatentDiffusion(config)
        fit = self.latents["train"] if self.windows is None else _concat(self.latents["train"], self.windows)
        self.normalisation = self.model.fit_normalisation(fit.positions, fit.features, fit.mask)

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> LatentBatch:
        """Rows from whole chains with probability ``whole_fraction``, else from windows of longer chains."""
        rng = np.random.default_rng([seed, rank, step])
        whole = self.latents["train"]
        n_whole = batch_size if self.windows is None else int(rng.binomial(batch_size, self.whole_fraction))
        part = whole.rows(torch.from_numpy(rng.integers(len(whole.mask), size=n_whole)))
        if n_whole == batch_size:
            return part
        extra = self.windows.rows(torch.from_numpy(rng.integers(len(self.windows.mask), size=batch_size - n_whole)))
        return _concat(part, extra)

    def loss(self, model: torch.nn.Module, batch: LatentBatch) -> dict[str, torch.Tensor]:
        return model(batch.positions, batch.features, batch.mask)

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """Mean epsilon loss over the validation chains, 4 fixed noise draws each."""
        model.eval()
        batch = self.latents["valid"].to(device)
        g = torch.Generator(device=device).manual_seed(0)
        losses = [model(batch.positions, batch.features, batch.mask, generator=g) for _ in range(4)]
        model.train()
        return {f"valid_{k}": float(torch.stack([l[k] for l in losses]).mean()) for k in losses[0]}


def build_configs(config: dict) -> tuple[DiffusionConfig, TrainConfig, dict]:
    """Split a parsed config file into model, training and data settings."""
    return split_config(config, DiffusionConfig.from_dict, required_data=("dataset", "autoencoder"), warm_start=True)


def make_card(name: str, task: LatentDiffusionTask, cfg: DiffusionConfig, train_cfg: TrainConfig, data_cfg: dict, info: dict, device: str,
              init: dict | None = None) -> dict:
    auto_dir = resolve(data_cfg["autoencoder"])
    return {
        "name": name,
        "method": "ophiuchus-ddpm",
        "version": VERSION,
        "config": cfg.to_dict(),
        "autoencoder": {"name": str(data_cfg["autoencoder"]), "sha256": sha256_of(auto_dir / "model.safetensors")},
        "schedulers": {s: scheduler_config(s, cfg.num_train_timesteps) for s in SCHEDULERS},
        "normalisation": task.normalisation,
        "data": {
            "source": data_cfg.get("source", "PDB corpus"),
            "selection": f"whole chains of {task.lengths[0]}-{task.lengths[1]} residues, one per (entry, sequence)"
            + ("" if task.windows is None else f"; plus {len(task.windows.mask)} fixed windows of that length from longer "
               f"training chains, drawn for {1 - task.whole_fraction:.0%} of each batch"),
            "split": split_rule(),
            "chains": {s: int(len(v)) for s, v in task.segments.items()},
        },
        "training": training_card(train_cfg, info, device, **({"init_from": init} if init else {})),
    }


def train_latent_diffusion(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Train (or resume) the latent DDPM; exports ``export/`` (weights + card) on every save."""
    cfg, train_cfg, data_cfg = build_configs(config)
    lengths = tuple(data_cfg.get("lengths", (40, 80)))
    task = LatentDiffusionTask(
        cfg, data_cfg["autoencoder"], load_fragments(data_cfg["dataset"]), lengths, seed=train_cfg.seed,
        windows=int(data_cfg.get("windows", 0)), whole_fraction=float(data_cfg.get("whole_fraction", 1.0)),
    )
    name = str(config.get("name", "ophiuchus-ddpm"))
    # After fit_normalisation: a warm start brings its own normalisation buffers (same data gives the same values).
    init = start_weights(task.model, train_cfg.init_from, "ophiuchus-ddpm", cfg.to_dict(), out_dir)

    def export(ema_model: torch.nn.Module, info: dict) -> None:
        card = make_card(name, task, cfg, train_cfg, data_cfg, info, str(device), init)
        save_checkpoint(out_dir / "export", ema_model.state_dict(), card)

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)
