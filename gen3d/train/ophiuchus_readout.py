"""Fit a residue-type readout on a frozen Ophiuchus autoencoder and export the autoencoder with it.

The trunk (encoder, latent, decoder geometry) is not touched, so latents, Cα and atoms stay
bit-identical; only the residue types the decoder reports change. Every step draws fresh random
crops (a pure function of seed and step) and runs the frozen trunk on them, so the readout never
sees a crop twice and a resumed run continues exactly; the validation windows are decoded once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gen3d.checkpoints import load_model, read_card, resolve, save_checkpoint, sha256_of
from gen3d.data.protein_batches import ResidueBatch, collate_windows, random_windows
from gen3d.data.protein_corpus import FragmentSet, load_fragments
from gen3d.models.ophiuchus.autoencoder import Ophiuchus, type_readout
from gen3d.models.ophiuchus.config import VERSION, OphiuchusConfig
from gen3d.models.ophiuchus.type_readout import TypeReadout
from gen3d.train.config import ConfigError, split_config
from gen3d.train.loop import TrainConfig, train, training_card

READOUT_KEYS = ("kernel", "width", "layers", "dropout", "levels", "add_member")
CACHE_BATCH = 16
STANDARDISE_WINDOWS = 128  # crops whose invariants set the readout's input standardisation


@dataclass
class ReadoutBatch:
    """Cached invariants (B, N, D), true types (B, N) and residue mask (B, N)."""

    invariants: torch.Tensor
    aatype: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> "ReadoutBatch":
        return ReadoutBatch(self.invariants.to(device), self.aatype.to(device), self.mask.to(device))


def random_crops(
    data: FragmentSet, segments: np.ndarray, count: int, window: int, min_window: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """``count`` crops of ``min_window`` to ``window`` residues (whole segments where shorter): the trunk's features
    change with the chain length it sees, so the readout learns from all lengths it will be used on."""
    windows = random_windows(data, segments, count, window, rng)
    if min_window >= window:
        return windows
    sizes = rng.integers(min_window, window + 1, size=count)
    return [(seg, start + int(rng.integers(0, size - min(size, n) + 1)), min(size, n))
            for (seg, start, size), n in zip(windows, sizes)]


@torch.no_grad()
def trunk_invariants(model: Ophiuchus, readout: TypeReadout, batch: ResidueBatch) -> torch.Tensor:
    """Readout inputs ``(B, N, D)`` of a residue batch, decoded by the frozen ``model``."""
    latent = model.encode(batch.aatype, batch.coords, batch.atom_mask, batch.mask)
    _, hidden, out, _ = model.decode_features(latent, batch.mask)
    return readout.invariants(hidden, out)


def cached_invariants(
    model: Ophiuchus, readout: TypeReadout, data: FragmentSet, windows: list[tuple[int, int, int]], length: int
) -> ReadoutBatch:
    """Readout inputs of fixed ``windows``, padded to ``length`` residues and stored as float16."""
    parts = []
    for k in range(0, len(windows), CACHE_BATCH):
        batch = collate_windows(data, windows[k : k + CACHE_BATCH], length)
        parts.append((trunk_invariants(model, readout, batch).half(), batch.aatype, batch.mask))
    return ReadoutBatch(*(torch.cat(column) for column in zip(*parts)))


def with_readout(cfg: OphiuchusConfig, settings: dict, members: int = 1) -> OphiuchusConfig:
    """``cfg`` with the readout of ``settings`` (``members`` of them)."""
    return replace(cfg, type_readout_kernel=settings["kernel"], type_readout_width=settings["width"],
                   type_readout_layers=settings["layers"], type_readout_levels=settings["levels"], type_readout_members=members)


class ReadoutTask:
    """Fresh training crops decoded by the frozen trunk each step; cross-entropy of the readout; validation
    recovery on fixed held-out windows."""

    def __init__(self, autoencoder: Ophiuchus, data: FragmentSet, settings: dict, data_cfg: dict, seed: int) -> None:
        torch.manual_seed(seed)
        self.trunk = autoencoder.eval().requires_grad_(False)
        self.model = type_readout(with_readout(autoencoder.config, settings), settings["dropout"])
        self.data, self.window = data, int(data_cfg.get("window", 64))
        self.min_window = int(data_cfg.get("min_window", self.window))
        self.length = autoencoder.padded_length(self.window)
        self.train_ids, valid_ids = data.indices("train", min_length=16), data.indices("valid", min_length=16)
        rng = np.random.default_rng(seed + 1)
        valid = random_windows(data, valid_ids, int(data_cfg.get("valid_windows", 2000)), self.window, rng)
        self.valid_set = cached_invariants(autoencoder, self.model, data, valid, self.length)
        rng = np.random.default_rng(seed)
        sample = cached_invariants(autoencoder, self.model, data, self._crops(STANDARDISE_WINDOWS, rng), self.length)
        self.model.set_standardisation(sample.invariants[sample.mask].float())

    def _crops(self, count: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
        return random_crops(self.data, self.train_ids, count, self.window, self.min_window, rng)

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> ResidueBatch:
        rng = np.random.default_rng([seed, rank, step])
        return collate_windows(self.data, self._crops(batch_size, rng), self.length)

    def loss(self, model: torch.nn.Module, batch: ResidueBatch) -> dict[str, torch.Tensor]:
        self.trunk.to(batch.aatype.device)
        invariants = trunk_invariants(self.trunk, self.model, batch)
        logits = model(invariants, batch.mask)[batch.mask]
        truth = batch.aatype[batch.mask]
        with torch.no_grad():
            recovery = (logits.argmax(-1) == truth).float().mean()
        return {"loss": F.cross_entropy(logits, truth), "recovery": recovery}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        model.eval()
        ce, hits, total = 0.0, 0, 0
        for k in range(0, len(self.valid_set.aatype), 256):
            b = ReadoutBatch(*(t[k : k + 256] for t in (self.valid_set.invariants, self.valid_set.aatype, self.valid_set.mask))).to(device)
            logits, truth = model(b.invariants.float(), b.mask)[b.mask], b.aatype[b.mask]
            ce += float(F.cross_entropy(logits, truth, reduction="sum"))
            hits += int((logits.argmax(-1) == truth).sum())
            total += int(truth.numel())
        model.train()
        return {"valid_type": ce / max(total, 1), "valid_recovery": hits / max(total, 1)}


def readout_settings(config: dict) -> dict:
    """The ``[readout]`` section with defaults; unknown keys are a ConfigError."""
    values = {"kernel": 3, "width": 256, "layers": 3, "dropout": 0.3, "levels": 0, "add_member": False,
              **config.get("readout", {})}
    unknown = set(values) - set(READOUT_KEYS)
    if unknown:
        raise ConfigError(f"unknown readout keys: {sorted(unknown)} (known: {list(READOUT_KEYS)})")
    if int(values["kernel"]) < 1 or int(values["kernel"]) % 2 == 0:
        raise ConfigError("readout.kernel must be a positive odd number")
    return {"kernel": int(values["kernel"]), "width": int(values["width"]), "layers": int(values["layers"]),
            "dropout": float(values["dropout"]), "levels": int(values["levels"]), "add_member": bool(values["add_member"])}


def _trunk(model: Ophiuchus) -> Ophiuchus:
    """The autoencoder without a type readout (one it already has is refitted, or kept as members: ``add_member``)."""
    if model.type_readout is None:
        return model
    trunk = Ophiuchus(replace(model.config, type_readout_kernel=0))
    trunk.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("type_readout.")})
    return trunk


def existing_members(model: Ophiuchus, settings: dict) -> dict[str, torch.Tensor]:
    """The source's readout tensors keyed as ensemble members (``members.<i>.*``) for ``readout.add_member``; the new
    member must have the existing readout's settings."""
    cfg = model.config
    if model.type_readout is None:
        raise ConfigError("readout.add_member needs an autoencoder that already has a type readout")
    if with_readout(cfg, settings, cfg.type_readout_members) != cfg:
        raise ConfigError("readout.add_member: kernel, width, layers and levels must be the existing readout's")
    state = model.type_readout.state_dict()
    return state if cfg.type_readout_members > 1 else {f"members.0.{k}": v for k, v in state.items()}


def _member_history(card: dict) -> list[dict]:
    """What the source card says about the readout members it already has."""
    section = dict(card.get("type_readout", {}))
    return section.pop("earlier_members", []) + [section]


def train_type_readout(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Fit (or resume) the readout; exports ``export/`` = the autoencoder's weights plus the readout, on every save."""
    _, train_cfg, data_cfg = split_config(config, lambda _: None, required_data=("dataset", "autoencoder"))
    source = resolve(str(data_cfg["autoencoder"]))
    loaded, ae_card = load_model(source, "ophiuchus", VERSION, lambda c: Ophiuchus(OphiuchusConfig.from_dict(c)))
    autoencoder = _trunk(loaded)
    settings = readout_settings(config)
    if not 0 <= settings["levels"] <= autoencoder.config.levels:
        raise ConfigError(f"readout.levels must be 0-{autoencoder.config.levels} for this autoencoder")
    members = existing_members(loaded, settings) if settings["add_member"] else {}
    count = 1 + len({key.split(".")[1] for key in members})
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    task = ReadoutTask(autoencoder, load_fragments(data_cfg["dataset"]), settings, data_cfg, train_cfg.seed)
    export_cfg = with_readout(autoencoder.config, settings, count)
    trunk = autoencoder.state_dict()

    def export(ema_model: torch.nn.Module, info: dict) -> None:
        readout = ema_model.state_dict()
        if members:
            readout = {**members, **{f"members.{count - 1}.{k}": v for k, v in readout.items()}}
        state = {**trunk, **{f"type_readout.{k}": v for k, v in readout.items()}}
        card = {k: v for k, v in read_card(source).items() if k not in ("sha256", "metrics")}
        card["name"] = str(config.get("name", ae_card.get("name")))
        card["config"] = export_cfg.to_dict()
        card["type_readout"] = {
            "fitted_on_sha256": sha256_of(source / "model.safetensors"),
            "settings": settings,
            "windows": {"train": "fresh random crops every step", "valid": len(task.valid_set.aatype)},
            "training": training_card(train_cfg, info, str(device), windows_seen=(info.get("step") or 0) * train_cfg.batch_size),
        }
        if members:
            card["type_readout"]["earlier_members"] = _member_history(ae_card)
        card["metrics"] = None
        save_checkpoint(out_dir / "export", state, card)

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)
