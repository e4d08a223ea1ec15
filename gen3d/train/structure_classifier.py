"""Train the secondary-structure classifier that guides miniprotein sampling.

Chains (whole training chains plus windows of longer ones, as the DDPM saw) are encoded once with
the DDPM's autoencoder and normalised with the DDPM's own statistics; each coarse node is labelled
with the DSSP class fractions (pydssp) of the residues it covers. Every step noises a batch at random
timesteps (the training loop keeps the RNG, so a resumed run continues exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gen3d.checkpoints import load_model, save_checkpoint
from gen3d.data.protein_chains import ResidueChain
from gen3d.data.protein_corpus import FragmentSet, load_fragments, split_rule
from gen3d.data.residues import RESIDUES
from gen3d.metrics.protein_geometry import Backbone
from gen3d.metrics.protein_structure import secondary_structure
from gen3d.models.ophiuchus.diffusion import VERSION as DDPM_VERSION
from gen3d.models.ophiuchus.diffusion import DiffusionConfig, LatentDiffusion
from gen3d.models.ophiuchus.structure_guide import CLASSES, VERSION, ClassifierConfig, StructureClassifier
from gen3d.samplers.ophiuchus import ProteinAutoencoder
from gen3d.train.config import ConfigError, split_config
from gen3d.train.latent_diffusion import cat_padded, unique_chains
from gen3d.train.loop import TrainConfig, train, training_card

VALID_TIMESTEPS = (0, 250, 500, 750)


@dataclass
class LabelledLatents:
    """Normalised latents (B, N, 3) and (B, N, D), node class fractions (B, N, 3), mask (B, N)."""

    positions: torch.Tensor
    features: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor

    def rows(self, index: torch.Tensor) -> "LabelledLatents":
        n = int(self.mask[index].sum(1).max())
        return LabelledLatents(*(x[index, :n] for x in (self.positions, self.features, self.labels, self.mask)))

    def to(self, device: torch.device | str) -> "LabelledLatents":
        return LabelledLatents(*(x.to(device) for x in (self.positions, self.features, self.labels, self.mask)))


def node_labels(chain: ResidueChain, compression: int) -> np.ndarray:
    """(ceil(L / compression), 3) fractions of loop, helix and strand (DSSP) among the residues of each coarse node;
    residues DSSP cannot assign (missing backbone atoms) count as loop."""
    coords = np.where(chain.mask[:, :4, None], chain.coords[:, :4], np.nan).astype(np.float64)
    n = len(chain.aatype)
    bb = Backbone(coords, np.array(RESIDUES)[chain.aatype], np.full(n, chain.chain_id), np.arange(n), np.ones(max(n - 1, 0), bool))
    ss = secondary_structure(bb).clip(min=0)
    counts = np.zeros((-(-n // compression), len(CLASSES)))
    np.add.at(counts, np.arange(n) // compression, np.eye(len(CLASSES))[ss])
    return counts / counts.sum(1, keepdims=True)


def split_chains(data: FragmentSet, split: str, lengths: tuple[int, int], windows: int, seed: int) -> list[ResidueChain]:
    """Whole chains of ``lengths`` residues in ``split`` (one per entry and sequence) and ``windows`` random windows of
    that length from its longer chains."""
    chains = [data.segment(int(s)) for s in unique_chains(data, data.indices(split, lengths[0], lengths[1], whole=True))]
    longer = data.indices(split, min_length=lengths[1] + 1)
    rng = np.random.default_rng([seed, 11])
    for seg in longer[rng.integers(len(longer), size=windows)] if len(longer) else []:
        chain = data.segment(int(seg))
        size = int(rng.integers(lengths[0], lengths[1] + 1))
        start = int(rng.integers(0, len(chain) - size + 1))
        chains.append(chain.slice(start, start + size))
    return chains


@torch.no_grad()
def labelled_latents(auto: ProteinAutoencoder, diffusion: LatentDiffusion, chains: list[ResidueChain], batch: int = 64) -> LabelledLatents:
    """Encode, normalise as ``diffusion`` does, and label ``chains``; padded to the longest."""
    parts = []
    for i in range(0, len(chains), batch):
        part = chains[i : i + batch]
        latent, _ = auto.encode(part)
        mask = latent.mask.bool().cpu()
        pos, feat = diffusion.normalise(latent.positions.cpu(), latent.features.cpu(), mask)
        labels = torch.zeros(*mask.shape, len(CLASSES))
        for k, chain in enumerate(part):
            y = torch.from_numpy(node_labels(chain, auto.compression)).float()
            labels[k, : len(y)] = y
        parts.append((pos, feat, labels, mask))
    return LabelledLatents(*(cat_padded([p[i] for p in parts]) for i in range(4)))


class StructureClassifierTask:
    """Random batches of labelled training latents; validation loss and accuracy at fixed timesteps."""

    def __init__(self, config: ClassifierConfig, diffusion: str, data: FragmentSet, lengths: tuple[int, int],
                 windows: int, seed: int = 0) -> None:
        self.diffusion, self.diffusion_card = load_model(
            diffusion, "ophiuchus-ddpm", DDPM_VERSION, lambda c: LatentDiffusion(DiffusionConfig.from_dict(c)))
        self.auto = ProteinAutoencoder.from_checkpoint(self.diffusion_card["autoencoder"]["name"], "cpu")
        torch.manual_seed(seed)
        self.model = StructureClassifier(config)
        try:
            self.model.copy_normalisation(self.diffusion)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self.lengths, self.windows = lengths, windows
        chains = {"train": split_chains(data, "train", lengths, windows, seed),
                  "valid": split_chains(data, "valid", lengths, max(windows // 20, 1), seed)}
        if not chains["train"] or not chains["valid"]:
            raise ConfigError(f"no training or validation chains of {lengths[0]}-{lengths[1]} residues in the dataset")
        self.counts = {s: len(c) for s, c in chains.items()}
        self.latents = {s: labelled_latents(self.auto, self.diffusion, c) for s, c in chains.items()}
        self.class_fractions = self._fractions(self.latents["train"])

    @staticmethod
    def _fractions(latents: LabelledLatents) -> dict[str, float]:
        mean = latents.labels[latents.mask].mean(0)
        return {name: round(float(v), 4) for name, v in zip(CLASSES, mean)}

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> LabelledLatents:
        rng = np.random.default_rng([seed, rank, step])
        return self.latents["train"].rows(torch.from_numpy(rng.integers(len(self.latents["train"].mask), size=batch_size)))

    def loss(self, model: torch.nn.Module, batch: LabelledLatents) -> dict[str, torch.Tensor]:
        return model.loss(batch.positions, batch.features, batch.labels, batch.mask)

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """Loss and node accuracy on the validation chains at a few fixed timesteps (one fixed noise draw each)."""
        model.eval()
        v = self.latents["valid"].to(device)
        g = torch.Generator(device=device).manual_seed(0)
        out = {}
        for t in VALID_TIMESTEPS:
            r = model.loss(v.positions, v.features, v.labels, v.mask, generator=g, t=torch.full((len(v.mask),), t, device=device))
            out[f"valid_loss_t{t}"], out[f"valid_accuracy_t{t}"] = float(r["loss"]), float(r["accuracy"])
        model.train()
        return out


def train_structure_classifier(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Train (or resume) the classifier; exports ``export/`` (weights + card) on every save."""
    cfg, train_cfg, data_cfg = split_config(config, ClassifierConfig.from_dict, required_data=("dataset", "diffusion"))
    lengths = tuple(data_cfg.get("lengths", (40, 80)))
    task = StructureClassifierTask(cfg, data_cfg["diffusion"], load_fragments(data_cfg["dataset"]), lengths,
                                   int(data_cfg.get("windows", 0)), seed=train_cfg.seed)
    name = str(config.get("name", "ophiuchus-structure-classifier"))

    def export(ema_model: torch.nn.Module, info: dict) -> None:
        save_checkpoint(out_dir / "export", ema_model.state_dict(), make_card(name, task, cfg, train_cfg, data_cfg, info, str(device)))

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)


def make_card(name: str, task: StructureClassifierTask, cfg: ClassifierConfig, train_cfg: TrainConfig, data_cfg: dict,
              info: dict, device: str) -> dict:
    card = task.diffusion_card
    return {
        "name": name,
        "method": "ophiuchus-structure-classifier",
        "version": VERSION,
        "config": cfg.to_dict(),
        "classes": list(CLASSES),
        "diffusion": {"name": card.get("name"), "sha256": card["sha256"],
                      "note": "latents are read in this DDPM's normalised space (its buffers are copied into the classifier)"},
        "autoencoder": card["autoencoder"],
        "data": {
            "source": data_cfg.get("source", "PDB corpus"),
            "selection": f"whole chains of {task.lengths[0]}-{task.lengths[1]} residues, one per (entry, sequence), and "
                         f"{task.windows} random windows of that length from longer chains",
            "labels": "per coarse node, the DSSP (pydssp) fractions of loop, helix (H, G, I) and strand (E, B) of its residues",
            "split": split_rule(),
            "chains": task.counts,
            "train_class_fractions": task.class_fractions,
        },
        "training": training_card(train_cfg, info, device),
    }
