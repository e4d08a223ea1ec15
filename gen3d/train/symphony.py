"""Symphony on QM9: the training task (batches, loss, validation) and weight export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.data.fragments import Z_TO_INDEX, FragmentBatch, collate, sample_fragment
from gen3d.data.qm9 import QM9, SPLIT_SIZES, load_qm9
from gen3d.models.symphony import Symphony, SymphonyConfig
from gen3d.models.symphony.config import VERSION
from gen3d.train.config import split_config
from gen3d.train.loop import TrainConfig, train, training_card

VALID_BATCHES = 8
VALID_SAMPLES = 32


def start_element_logits(qm9: QM9, rows: np.ndarray) -> torch.Tensor:
    """Log-frequency of the first atom's element (a uniformly chosen heavy atom per molecule)."""
    counts = np.zeros(5)
    for i in rows:
        z, _ = qm9.molecule(i)
        heavy = Z_TO_INDEX[z[z > 1]]
        np.add.at(counts, heavy, 1.0 / max(len(heavy), 1))
    return torch.tensor(np.log(np.maximum(counts / counts.sum(), 1e-12)), dtype=torch.float32)


class SymphonyTask:
    """Teacher-forcing fragments from QM9's EDM training split."""

    def __init__(
        self, model_config: SymphonyConfig, noise: float = 0.02, qm9: QM9 | None = None, seed: int = 0
    ) -> None:
        self.qm9 = qm9 or load_qm9()
        self.noise = noise
        torch.manual_seed(seed)  # the initial weights are part of the run's reproducibility
        self.model = Symphony(model_config)
        self.model.first_element_logits.copy_(start_element_logits(self.qm9, self.qm9.split["train"]))

    def _fragments(self, rows: np.ndarray, rng: np.random.Generator, noise: float) -> FragmentBatch:
        frags = [sample_fragment(*self.qm9.molecule(i), rng, noise) for i in rows]
        return collate([f for f in frags if f is not None])

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> FragmentBatch:
        rng = np.random.default_rng([seed, rank, step])
        train_rows = self.qm9.split["train"]
        return self._fragments(train_rows[rng.integers(len(train_rows), size=batch_size)], rng, self.noise)

    def loss(self, model: torch.nn.Module, batch: FragmentBatch) -> dict[str, torch.Tensor]:
        return model(batch)

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """Mean losses on fixed validation fragments (no noise), then sample and score molecules."""
        model.eval()
        metrics = self._validation_losses(model, device)
        metrics.update(self._validation_samples(model, device))
        model.train()
        return metrics

    def _validation_samples(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """xyz2mol validity and size of a few molecules sampled at temperature 1 (seed 0)."""
        from gen3d.metrics.perception import perceive_results
        from gen3d.samplers.symphony import SymphonySampler

        sampler = SymphonySampler(model, valence_mask=False)  # the model alone, without sampling rules
        molecules = list(sampler.sample(VALID_SAMPLES, seed=0, batch_size=VALID_SAMPLES, device=device))
        results = perceive_results(molecules, timeout=5.0)
        return {
            "sample_validity": sum(r.valid for r in results) / len(results),
            "sample_mean_atoms": sum(len(m) for m in molecules) / len(molecules),
        }

    def _validation_losses(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        rng = np.random.default_rng(12345)
        rows = self.qm9.split["valid"]
        totals: dict[str, float] = {}
        for _ in range(VALID_BATCHES):
            batch = self._fragments(rows[rng.integers(len(rows), size=128)], rng, 0.0).to(device)
            for k, v in model(batch).items():
                totals[f"valid_{k}"] = totals.get(f"valid_{k}", 0.0) + float(v) / VALID_BATCHES
        return totals


def build_configs(config: dict) -> tuple[SymphonyConfig, TrainConfig, dict]:
    """Split a parsed config file into model, training and data settings."""
    return split_config(config, SymphonyConfig.from_dict)


def make_card(model_cfg: SymphonyConfig, train_cfg: TrainConfig, data_cfg: dict, info: dict, device: str) -> dict:
    """The checkpoint card (metrics are added by the evaluation that measures them)."""
    return {
        "name": "symphony-qm9",
        "method": "symphony",
        "version": VERSION,
        "config": model_cfg.to_dict(),
        "data": {
            "source": "QM9 via the qm9pack package (130,831 molecules, DFT geometries, with hydrogens)",
            "split": "EDM: numpy RandomState(0).permutation(130831) -> 100,000 train / 17,748 valid / 13,083 test",
            "size": SPLIT_SIZES,
            "coordinate_noise_A": data_cfg.get("noise", 0.02),
        },
        "training": training_card(
            train_cfg, info, device, fragments_seen=(info.get("step") or 0) * train_cfg.batch_size * info.get("world_size", 1)
        ),
    }


def train_symphony(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Train (or resume) Symphony on QM9; exports ``model.safetensors`` + ``card.json`` on every save."""
    model_cfg, train_cfg, data_cfg = build_configs(config)
    task = SymphonyTask(model_cfg, noise=float(data_cfg.get("noise", 0.02)), seed=train_cfg.seed)

    def export(ema_model: torch.nn.Module, info: dict) -> None:
        save_checkpoint(out_dir / "export", ema_model.state_dict(), make_card(model_cfg, train_cfg, data_cfg, info, str(device)))

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)
