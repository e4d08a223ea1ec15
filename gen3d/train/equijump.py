"""EquiJump on reference MD: lagged frame pairs, the interpolant loss, validation, checkpoint export.

Training frames come from one or more ``gen3d dynamics md`` folders; the last ``valid_fraction``
of every trajectory is held out for validation. The model's vocabulary and the checkpoint's
topology are taken from the data, so a checkpoint only accepts starts with that topology.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.data.md_archive import protocol_of
from gen3d.data.md_frames import MDTrajectories, lagged_pairs, load_trajectories
from gen3d.models.equijump import VERSION, EquiJumpConfig, Interpolant, build_network
from gen3d.models.equijump.interpolant import centred
from gen3d.train.config import ConfigError, split_config
from gen3d.train.loop import TrainConfig, train, training_card
from gen3d.train.warm_start import start_weights

VALID_PAIRS = 512
VALID_WALKERS, VALID_JUMPS = 64, 20


@dataclass
class JumpBatch:
    """Flattened (x_t, x_{t+tau}) pairs of B systems with n atoms each."""

    x0: torch.Tensor
    x1: torch.Tensor
    tokens: torch.Tensor
    residues: torch.Tensor
    batch: torch.Tensor
    num: int

    def to(self, device) -> "JumpBatch":
        return JumpBatch(self.x0.to(device), self.x1.to(device), self.tokens.to(device), self.residues.to(device), self.batch.to(device), self.num)


def split_frames(data: MDTrajectories, valid_fraction: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Train on the first part of every trajectory, validate on its last ``valid_fraction``."""
    train_parts, valid_parts = [], []
    for traj in data.trajectories:
        cut = int(round(len(traj) * (1 - valid_fraction)))
        train_parts.append(traj[:cut])
        valid_parts.append(traj[cut:])
    return train_parts, valid_parts


def card_topology(data: MDTrajectories) -> list[list]:
    """``[residue ordinal, residue name, atom name, element]`` per heavy atom, in model order."""
    top = data.topology
    return [[int(r), str(n), str(a), str(e)] for r, n, a, e in zip(top.residue_index, top.residue_names, top.atom_names, top.elements)]


def sample_times(num: int, late_fraction: float, device) -> torch.Tensor:
    """Interpolant times: uniform, with ``late_fraction`` of them drawn as 1 - u^2 (dense near s = 1)."""
    u = torch.rand(num, device=device)
    late = torch.rand(num, device=device) < late_fraction
    return torch.where(late, 1 - torch.rand(num, device=device) ** 2, u)


def bond_loss(x1_hat: torch.Tensor, x1: torch.Tensor, x0: torch.Tensor, batch: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Squared error of predicted bonded distances (pairs closer than 1.9 Å in the current frame), weighted by s."""
    from gen3d.nn.graph import radius_graph

    src, dst = radius_graph(x0, batch, 1.9)
    error = (x1_hat[src] - x1_hat[dst]).norm(dim=-1) - (x1[src] - x1[dst]).norm(dim=-1)
    return (s[batch[src]] * error.pow(2)).mean()


def residue_sequence(data: MDTrajectories) -> list[str]:
    """Residue names in order."""
    top = data.topology
    return [name for _, name in dict.fromkeys(zip(top.residue_index.tolist(), top.residue_names.tolist()))]


class EquiJumpTask:
    """Random lagged pairs from the training frames; interpolant loss; validation loss on fixed pairs."""

    def __init__(
        self, config: EquiJumpConfig, data: MDTrajectories, valid_fraction: float = 0.1, seed: int = 0, sampling: dict | None = None,
    ) -> None:
        self.sampling = dict(sampling or {})  # how this model's jumps are integrated: validation rollouts and the card
        vocabulary = tuple(sorted(set(config.vocabulary) | set(data.topology.tokens)))
        self.config = replace(config, vocabulary=vocabulary, atoms=len(data.topology.tokens) if "frame" in config.backbone else config.atoms)
        self.lag = int(round(config.tau_ps / data.dt_ps))
        if self.lag < 1:
            raise ConfigError(f"tau {config.tau_ps} ps is shorter than the frame interval {data.dt_ps} ps")
        self.data = data
        self.train_frames, self.valid_frames = split_frames(data, valid_fraction)
        index = {t: i for i, t in enumerate(vocabulary)}
        self.tokens = torch.tensor([index[t] for t in data.topology.tokens])
        self.residues = torch.as_tensor(data.topology.residue_index)
        self.interpolant = Interpolant(config.interpolant, config.gamma_scale, config.base_noise, config.prior_scale)
        torch.manual_seed(seed)
        self.model = build_network(self.config)
        if "frame" in self.config.backbone:  # the canonical orientation: the first training frame
            self.model.set_reference(torch.as_tensor(self.train_frames[0][0], dtype=torch.float32))
        self.valid = self._collate(*lagged_pairs(self.valid_frames, self.lag, np.random.default_rng(12345), VALID_PAIRS))

    @cached_property
    def covalent_geometry(self) -> dict:
        """Mean bond and 1-3 lengths over the training frames, for the card (computed once, exported on every save)."""
        from gen3d.samplers.covalent_projection import mean_covalent_geometry

        return mean_covalent_geometry(self.train_frames)

    def _collate(self, x0: np.ndarray, x1: np.ndarray) -> JumpBatch:
        B, n, _ = x0.shape
        return JumpBatch(
            torch.as_tensor(x0, dtype=torch.float32).reshape(-1, 3), torch.as_tensor(x1, dtype=torch.float32).reshape(-1, 3),
            self.tokens.repeat(B), self.residues.repeat(B), torch.arange(B).repeat_interleave(n), B,
        )

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> JumpBatch:
        rng = np.random.default_rng([seed, rank, step])
        return self._collate(*lagged_pairs(self.train_frames, self.lag, rng, batch_size))

    def loss(self, model: torch.nn.Module, batch: JumpBatch) -> dict[str, torch.Tensor]:
        cfg = self.config
        s_graph = sample_times(batch.num, cfg.late_fraction, batch.x0.device)
        s = s_graph[batch.batch][:, None]
        x0 = batch.x0 + cfg.condition_noise * centred(torch.randn_like(batch.x0), batch.batch, batch.num)
        xs, b_target, z = self.interpolant.sample_path(x0, batch.x1, s, batch.batch, batch.num)
        out, eta = model(batch.tokens, batch.residues, x0, xs, s_graph, batch.batch)
        loss_eta = (eta - z).pow(2).sum(-1).mean()
        if cfg.parameterization != "endpoint":
            loss_b = (out - b_target).pow(2).sum(-1).mean()
            return {"loss": loss_b + loss_eta, "drift": loss_b, "denoiser": loss_eta}
        x1_hat = xs + out
        loss_x1 = (x1_hat - batch.x1).pow(2).sum(-1).mean()
        loss_bond = bond_loss(x1_hat, batch.x1, batch.x0, batch.batch, s_graph)
        return {"loss": loss_x1 + loss_eta + cfg.bond_weight * loss_bond, "endpoint": loss_x1, "denoiser": loss_eta, "bond": loss_bond}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """Mean interpolant losses over 4 noise draws on fixed validation pairs."""
        model.eval()
        torch_state = torch.get_rng_state()
        torch.manual_seed(0)
        batch = self.valid.to(device)
        sums: dict[str, float] = {}
        for _ in range(4):
            for k, v in self.loss(model, batch).items():
                sums[k] = sums.get(k, 0.0) + float(v) / 4
        out = {f"valid_{k}": v for k, v in sums.items()}
        out.update(self._rollout_metrics(model, device))
        torch.set_rng_state(torch_state)
        model.train()
        return out

    def _rollout_metrics(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        """Short rollouts from validation frames scored against the validation frames (the learning curve's quality)."""
        from gen3d.metrics.dynamics import evaluate_dynamics
        from gen3d.samplers.equijump import DynamicsSampler, card_settings

        card = {"data": {"topology": card_topology(self.data)}, "sampling": self.sampling}
        sampler = DynamicsSampler(model, card, jumps=VALID_JUMPS, settings=card_settings(card, retries=0, project=False))  # the raw model
        frames = np.concatenate(self.valid_frames)
        starts = frames[np.linspace(0, len(frames) - 1, VALID_WALKERS).astype(int)]
        generator = torch.Generator(device=device).manual_seed(0)
        x = torch.as_tensor(starts - starts.mean(1, keepdims=True), dtype=torch.float32, device=device)
        walk = []
        for _ in range(VALID_JUMPS):
            x = sampler.jump(x, generator)
            walk.append(x.cpu().numpy().astype(np.float64))
        if not np.isfinite(walk[-1]).all():
            return {"rollout_physical_frames": 0.0}
        model_traj = MDTrajectories(self.data.topology, list(np.stack(walk, axis=1)), self.config.tau_ps)
        reference = MDTrajectories(self.data.topology, [f for f in self.valid_frames if len(f)], self.data.dt_ps)
        report, _ = evaluate_dynamics(model_traj, reference)
        keep = ("physical_frames", "js_", "max_basin_error")
        return {f"rollout_{k}": v for k, v in report["metrics"].items() if k.startswith(keep) and "reference" not in k}


def build_configs(config: dict) -> tuple[EquiJumpConfig, TrainConfig, dict]:
    """Split a parsed config file into model, training and data settings."""
    return split_config(config, EquiJumpConfig.from_dict, required_data=("trajectories",), warm_start=True)


def load_training_data(data_cfg: dict) -> MDTrajectories:
    """All trajectories named in ``data.trajectories`` (MD folders with one topology)."""
    paths = data_cfg["trajectories"]
    paths = [paths] if isinstance(paths, str) else list(paths)
    loaded = [load_trajectories(p) for p in paths]
    first = loaded[0]
    for other, path in zip(loaded[1:], paths[1:]):
        if other.topology.tokens != first.topology.tokens or other.dt_ps != first.dt_ps:
            raise ConfigError(f"{path}: topology or frame interval differs from {paths[0]}")
    return MDTrajectories(first.topology, [t for d in loaded for t in d.trajectories], first.dt_ps, first.mdtraj_topology)


def make_card(
    name: str, task: EquiJumpTask, train_cfg: TrainConfig, data_cfg: dict, info: dict, device: str, init: dict | None = None
) -> dict:
    """The checkpoint card; rollout metrics are added by the evaluation that measures them."""
    frames = sum(len(t) for t in task.train_frames)
    paths = [data_cfg["trajectories"]] if isinstance(data_cfg["trajectories"], str) else list(data_cfg["trajectories"])
    return {
        "name": name,
        "method": "equijump",
        "version": VERSION,
        "config": task.config.to_dict(),
        "tau_ps": task.config.tau_ps,
        "data": {
            "source": data_cfg.get("source", "reference MD"),
            "protocol": data_cfg.get("protocol") or protocol_of(paths),
            "trajectories": [str(p) for p in paths],
            "frame_interval_ps": task.data.dt_ps,
            "train_frames": frames,
            "train_ns": round(frames * task.data.dt_ps / 1000, 3),
            "valid_frames": sum(len(t) for t in task.valid_frames),
            "residues": residue_sequence(task.data),
            "topology": card_topology(task.data),
            "covalent_geometry": task.covalent_geometry,
        },
        **({"sampling": task.sampling} if task.sampling else {}),
        "training": training_card(
            train_cfg, info, device, pairs_seen=(info.get("step") or 0) * train_cfg.batch_size * info.get("world_size", 1),
            **({"init_from": init} if init else {}),
        ),
    }


def train_equijump(config: dict, out_dir: Path, device: torch.device, echo=print, on_step=None) -> dict:
    """Train (or resume) an EquiJump model; exports ``export/model.safetensors`` + ``card.json`` on every save."""
    model_cfg, train_cfg, data_cfg = build_configs(config)
    data = load_training_data(data_cfg)
    task = EquiJumpTask(model_cfg, data, float(data_cfg.get("valid_fraction", 0.1)), seed=train_cfg.seed, sampling=config.get("sampling"))
    name = str(config.get("name", "equijump"))
    init = start_weights(task.model, train_cfg.init_from, "equijump", task.config.to_dict(), out_dir)

    def export(ema_model: torch.nn.Module, info: dict) -> None:
        card = make_card(name, task, train_cfg, data_cfg, info, str(device), init)
        save_checkpoint(out_dir / "export", ema_model.state_dict(), card)

    return train(task, train_cfg, out_dir, device, echo=echo, on_save=export, on_step=on_step)
