"""Ophiuchus autoencoder on a PDB fragment dataset: the training task and checkpoint export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.data.protein_batches import ResidueBatch, collate_windows, random_windows
from gen3d.data.protein_corpus import FragmentSet, load_fragments, split_rule
from gen3d.models.ophiuchus.autoencoder import Ophiuchus
from gen3d.models.ophiuchus.config import VERSION, OphiuchusConfig
from gen3d.models.ophiuchus.loss import WEIGHTS, autoencoder_loss
from gen3d.train.config import ConfigError, split_config
from gen3d.train.loop import TrainConfig, train, training_card

VALID_WINDOWS = 64


class OphiuchusTask:
    """Random windows of training segments; validation on fixed windows of the validation split."""

    def __init__(
        self, model_config: OphiuchusConfig, data: FragmentSet, window: int = 64, seed: int = 0, loss_weights: dict | None = None
    ) -> None:
        self.data, self.window, self.loss_weights = data, window, dict(loss_weights or {})
        torch.manual_seed(seed)
        self.model = Ophiuchus(model_config)
        self.length = self.model.padded_length(window)
        self.train_segments = data.indices("train", min_length=16)
        self.valid_segments = data.indices("valid", min_length=16)

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> ResidueBatch:
        rng = np.random.default_rng([seed, rank, step])
        windows = random_windows(self.data, self.train_segments, batch_size, self.window, rng)
        return collate_windows(self.data, windows, self.length)

    def loss(self, model: torch.nn.Module, batch: ResidueBatch) -> dict[str, torch.Tensor]:
        decoded = model(batch.aatype, batch.coords, batch.atom_mask, batch.mask)
        return autoencoder_loss(decoded, batch.aatype, batch.coords, batch.atom_mask, batch.mask, self.loss_weights)

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """Losses and reconstruction errors (Cα and all-atom RMSD, Å; residue recovery) on fixed windows."""
        from gen3d.metrics.reconstruction import reconstruction_errors

        model.eval()
        rng = np.random.default_rng(12345)
        batch = collate_windows(self.data, random_windows(self.data, self.valid_segments, VALID_WINDOWS, self.window, rng), self.length)
        batch = batch.to(device)
        decoded = model(batch.aatype, batch.coords, batch.atom_mask, batch.mask)
        terms = autoencoder_loss(decoded, batch.aatype, batch.coords, batch.atom_mask, batch.mask, self.loss_weights)
        out = {f"valid_{k}": float(v) for k, v in terms.items()}
        errors = reconstruction_errors(decoded, batch)
        out.update({f"valid_{k}": float(np.mean(v)) for k, v in errors.items()})
        model.train()
        return out


def build_configs(config: dict) -> tuple[OphiuchusConfig, TrainConfig, dict]:
    """Split a parsed config file into model, training and data settings."""
    return split_config(config, OphiuchusConfig.from_dict, required_data=("dataset",))


def make_card(
    name: str, model_cfg: OphiuchusConfig, train_cfg: TrainConfig, data_cfg: dict, data: FragmentSet, info: dict, device: str,
    loss_weights: dict | None = None,
) -> dict:
    """The checkpoint card (test metrics are added by the evaluation that measures them)."""
    counts = {s: int(len(data.indices(s))) for s in ("train", "valid", "test")}
    return {
        "name": name,
        "method": "ophiuchus",
        "version": VERSION,
        "config": model_cfg.to_dict(),
        "compression": model_cfg.compression,
        "data": {
            "source": data_cfg.get("source", "PDB corpus"),
            "split": split_rule(),
            "size_segments": counts,
            "residues": int(data.lengths.sum()),
            "window": data_cfg.get("window", 64),
        },
        "training": training_card(
            train_cfg, info, device, windows_seen=(info.get("step") or 0) * train_cfg.batch_size * info.get("world_size", 1),
            loss_weights={**WEIGHTS, **(loss_weights or {})},
        ),
    }


def train_ophiuchus(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Train (or resume) the autoencoder; exports ``export/model.safetensors`` + ``card.json`` on every save."""
    model_cfg, train_cfg, data_cfg = build_configs(config)
    data = load_fragments(data_cfg["dataset"])
    weights = config.get("loss", {})
    unknown = set(weights) - set(WEIGHTS)
    if unknown:
        raise ConfigError(f"unknown loss terms: {sorted(unknown)} (known: {sorted(WEIGHTS)})")
    task = OphiuchusTask(model_cfg, data, window=int(data_cfg.get("window", 64)), seed=train_cfg.seed, loss_weights=weights)
    name = str(config.get("name", f"ophiuchus-x{model_cfg.compression}"))

    def export(ema_model: torch.nn.Module, info: dict) -> None:
        card = make_card(name, model_cfg, train_cfg, data_cfg, data, info, str(device), weights)
        save_checkpoint(out_dir / "export", ema_model.state_dict(), card)

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)
