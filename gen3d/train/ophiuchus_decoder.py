"""Fine-tune an Ophiuchus decoder on noisy latents, the encoder frozen: a decoder for generation.

A latent DDPM never hits a training latent exactly, and the autoencoder's own decoder is steep:
latents off by 0.5 Å in position or 0.2 of a channel's RMS in features decode to chains with
several breaks each. Here every training latent gets Gaussian noise of a random level (per
structure, uniform from zero to the configured maximum) before decoding, and the loss asks for
the clean structure, so the decoder learns to map near-miss latents back onto proteins. An
optional steric term (the clash score's own overlap energy) keeps decoded side chains apart. The
encoder's tensors are exported byte-identical, so latents, and a denoiser trained on them, are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gen3d.checkpoints import load_model, read_card, resolve, save_checkpoint, sha256_of
from gen3d.data.protein_batches import ResidueBatch, collate_windows, random_windows
from gen3d.data.protein_corpus import FragmentSet, load_fragments
from gen3d.data.residues import SLOT_EXISTS
from gen3d.models.ophiuchus.autoencoder import Latent, Ophiuchus
from gen3d.models.ophiuchus.config import VERSION, OphiuchusConfig
from gen3d.models.ophiuchus.diffusion import channel_spread
from gen3d.models.ophiuchus.loss import autoencoder_loss
from gen3d.models.ophiuchus.sterics import steric_overlap
from gen3d.train.config import ConfigError, split_config
from gen3d.train.loop import train, training_card

ENCODER = ("embed", "enc_conv", "coarsen", "to_latent", "enc_norm")
NOISE_KEYS = ("position_noise", "feature_noise", "steric", "steric_margin", "steric_start", "steric_ramp")
SCALE_WINDOWS = 256  # windows whose latents set each feature channel's RMS (the unit of feature noise)
VALID_WINDOWS = 64


@dataclass
class NoisyDecoderBatch:
    """Training windows and the seed of their noise (a function of seed, rank and step, so a resumed run repeats it)."""

    residues: ResidueBatch
    noise_seed: int
    step: int

    def to(self, device: torch.device | str) -> "NoisyDecoderBatch":
        return NoisyDecoderBatch(self.residues.to(device), self.noise_seed, self.step)


class DecoderPart(nn.Module):
    """The decoder modules of an autoencoder as one trainable module; ``forward`` decodes a latent with them.

    The autoencoder is held outside the module tree, so parameters and state dict are the decoder's only."""

    def __init__(self, autoencoder: Ophiuchus) -> None:
        super().__init__()
        self.parts = nn.ModuleDict({name: m for name, m in autoencoder.named_children() if name not in ENCODER})
        self._autoencoder = [autoencoder]

    def forward(self, positions: torch.Tensor, features: torch.Tensor, node_mask: torch.Tensor, mask: torch.Tensor):
        return self._autoencoder[0].decode(Latent(positions, features, node_mask), mask)


def channel_rms(model: Ophiuchus, batch: ResidueBatch) -> torch.Tensor:
    """Spread of each latent feature channel over ``batch``'s latents, per dimension: the units the latent DDPM
    normalises to (:func:`gen3d.models.ophiuchus.diffusion.channel_spread`)."""
    with torch.no_grad():
        latent = model.encode(batch.aatype, batch.coords, batch.atom_mask, batch.mask)
    return channel_spread(latent.features[latent.mask], model.config.irreps_latent)[1]


def noisy(latent: Latent, level: torch.Tensor, position_noise: float, feature_rms: torch.Tensor, feature_noise: float,
          generator: torch.Generator | None = None) -> Latent:
    """``latent`` plus isotropic Gaussian noise: ``level (B,)`` times ``position_noise`` Å on positions and times
    ``feature_noise`` channel RMS on features (rotation-invariant in law, so equivariance is kept)."""
    m = latent.mask[..., None].to(latent.positions.dtype)
    lv = level.view(-1, 1, 1)
    dp = torch.randn(latent.positions.shape, generator=generator).to(latent.positions)
    df = torch.randn(latent.features.shape, generator=generator).to(latent.features)
    return Latent(latent.positions + lv * position_noise * dp * m,
                  latent.features + lv * feature_noise * feature_rms.to(df) * df * m, latent.mask)


class NoisyDecoderTask:
    """Fresh training windows encoded by the frozen encoder, noised, decoded; validation on fixed windows at
    no noise and at the maximum."""

    def __init__(self, autoencoder: Ophiuchus, data: FragmentSet, settings: dict, window: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.encoder = autoencoder.eval()
        for name, module in autoencoder.named_children():
            module.requires_grad_(name not in ENCODER)
        self.model = DecoderPart(autoencoder).train()
        self.data, self.window, self.settings = data, window, settings
        self.length = autoencoder.padded_length(window)
        self.train_ids = data.indices("train", min_length=16)
        rng = np.random.default_rng(seed + 1)
        self.feature_rms = channel_rms(autoencoder, self._windows(self.train_ids, SCALE_WINDOWS, rng))
        self.valid = self._windows(data.indices("valid", min_length=16), VALID_WINDOWS, np.random.default_rng(12345))

    def _windows(self, ids: np.ndarray, count: int, rng: np.random.Generator) -> ResidueBatch:
        return collate_windows(self.data, random_windows(self.data, ids, count, self.window, rng), self.length)

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> NoisyDecoderBatch:
        rng = np.random.default_rng([seed, rank, step])
        windows = self._windows(self.train_ids, batch_size, rng)
        return NoisyDecoderBatch(windows, int(rng.integers(2**62)), step)

    def steric_weight(self, step: int) -> float:
        """The steric term's weight at ``step``: zero for ``steric_start`` steps (the decoder first learns to read noisy
        latents), then rising linearly to ``steric`` over ``steric_ramp`` steps; from the start it overwhelms the fit."""
        s = self.settings
        return s["steric"] * min(max((step - s["steric_start"]) / max(s["steric_ramp"], 1.0), 0.0), 1.0)

    def _loss(self, model: nn.Module, batch: ResidueBatch, level: torch.Tensor, generator: torch.Generator,
              steric: float) -> dict:
        s = self.settings
        with torch.no_grad():
            latent = self.encoder.encode(batch.aatype, batch.coords, batch.atom_mask, batch.mask)
        latent = noisy(latent, level, s["position_noise"], self.feature_rms, s["feature_noise"], generator)
        decoded = model(latent.positions, latent.features, latent.mask, batch.mask)
        terms = autoencoder_loss(decoded, batch.aatype, batch.coords, batch.atom_mask, batch.mask)
        if s["steric"] > 0:
            exists = torch.as_tensor(SLOT_EXISTS, device=batch.aatype.device)[batch.aatype] & batch.mask[..., None]
            overlap = steric_overlap(decoded.coords(batch.aatype), exists, batch.aatype, s["steric_margin"])
            terms["steric"] = (overlap / batch.mask.sum(1).clamp_min(1)).mean()
            terms["loss"] = terms["loss"] + steric * terms["steric"]
        return terms

    def loss(self, model: nn.Module, item: NoisyDecoderBatch) -> dict[str, torch.Tensor]:
        batch = item.residues
        self.encoder.to(batch.aatype.device)
        generator = torch.Generator().manual_seed(item.noise_seed)
        level = torch.rand(len(batch.mask), generator=generator)
        return self._loss(model, batch, level, generator, self.steric_weight(item.step))

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from gen3d.metrics.reconstruction import reconstruction_errors

        model.eval()
        self.encoder.to(device)
        batch, out = self.valid.to(device), {}
        for tag, value in (("clean", 0.0), ("noisy", 1.0)):
            generator = torch.Generator().manual_seed(0)
            level = torch.full((len(batch.mask),), value)
            terms = self._loss(model, batch, level, generator, self.settings["steric"])
            out.update({f"valid_{tag}_{k}": float(v) for k, v in terms.items()})
        latent = self.encoder.encode(batch.aatype, batch.coords, batch.atom_mask, batch.mask)
        errors = reconstruction_errors(model(latent.positions, latent.features, latent.mask, batch.mask), batch)
        out.update({f"valid_{k}": float(np.mean(v)) for k, v in errors.items()})
        model.train()
        return out


def noise_settings(config: dict) -> dict:
    """The ``[decoder]`` section with defaults; unknown keys or negative values are a ConfigError."""
    values = {"position_noise": 0.8, "feature_noise": 0.3, "steric": 0.0, "steric_margin": 0.1, "steric_start": 0,
              "steric_ramp": 0, **config.get("decoder", {})}
    unknown = set(values) - set(NOISE_KEYS)
    if unknown:
        raise ConfigError(f"unknown decoder keys: {sorted(unknown)} (known: {list(NOISE_KEYS)})")
    out = {k: float(v) for k, v in values.items()}
    if min(out.values()) < 0:
        raise ConfigError("decoder noise levels and steric weights must be >= 0")
    return out


def train_noisy_decoder(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Fine-tune (or resume) the decoder; exports ``export/`` = the source's encoder tensors plus the new decoder."""
    _, train_cfg, data_cfg = split_config(config, lambda _: None, required_data=("dataset", "autoencoder"))
    source = resolve(str(data_cfg["autoencoder"]))
    autoencoder, source_card = load_model(source, "ophiuchus", VERSION, lambda c: Ophiuchus(OphiuchusConfig.from_dict(c)))
    if autoencoder.type_readout is not None:
        raise ConfigError("kind = decoder fine-tunes autoencoders without a separate type readout")
    settings = noise_settings(config)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    encoder = {k: v.clone() for k, v in autoencoder.state_dict().items() if k.split(".")[0] in ENCODER}
    task = NoisyDecoderTask(autoencoder, load_fragments(data_cfg["dataset"]), settings, int(data_cfg.get("window", 64)),
                            train_cfg.seed)

    def export(ema_model: nn.Module, info: dict) -> None:
        decoder = {k.removeprefix("parts."): v for k, v in ema_model.state_dict().items()}
        card = {k: v for k, v in read_card(source).items() if k not in ("sha256", "metrics")}
        card["name"] = str(config.get("name", f"{source_card.get('name', 'ophiuchus')}-decoder"))
        card["noisy_decoder"] = {
            "source": str(data_cfg["autoencoder"]),
            "source_sha256": sha256_of(source / "model.safetensors"),
            "encoder": "byte-identical to the source's (same latents)",
            "settings": settings,
            "feature_noise_unit": "each latent channel's RMS over training windows",
            "training": training_card(train_cfg, info, str(device), windows_seen=(info.get("step") or 0) * train_cfg.batch_size),
        }
        card["metrics"] = None
        save_checkpoint(out_dir / "export", {**encoder, **decoder}, card)

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)
