"""The training loop: AdamW + warmup/cosine, gradient clipping, EMA, DDP, periodic validation.

A :class:`Task` supplies the model, batches for a given (rank, step), the loss and a
validation; the loop owns everything else. Runs are resumable: ``out_dir/state.pt`` holds the
model, EMA, optimiser, step, wall time and RNG state, written atomically every few minutes.
Start several processes with ``torchrun`` for distributed data parallel (gloo on CPU, NCCL on
CUDA); each rank draws its own batches.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset

from gen3d.train.state import STATE_FILE, load_state, save_state


@dataclass
class TrainConfig:
    """Optimisation settings (the model's own settings live in its config)."""

    steps: int = 20_000
    batch_size: int = 128
    lr: float = 2e-3
    min_lr: float = 5e-5
    weight_decay: float = 1e-6
    warmup: int = 500
    grad_clip: float = 5.0
    ema: float = 0.999
    seed: int = 0
    log_every: int = 50
    validate_every: int = 2_000
    save_every_s: float = 300.0
    num_workers: int = 1
    threads: int = 0
    init_from: str = ""  # a checkpoint (name or folder) whose weights start a fresh run; ignored when resuming


class Task(Protocol):
    """What a model brings to the loop."""

    model: torch.nn.Module

    def batch(self, rank: int, step: int, seed: int, batch_size: int) -> Any: ...

    def loss(self, model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]: ...

    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]: ...


class _Steps(Dataset):
    """Map-style view ``step -> batch`` so DataLoader workers can prefetch deterministically."""

    def __init__(self, task: Task, rank: int, start: int, stop: int, seed: int, batch_size: int) -> None:
        self.task, self.rank, self.start, self.stop = task, rank, start, stop
        self.seed, self.batch_size = seed, batch_size

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def __getitem__(self, i: int) -> Any:
        return self.task.batch(self.rank, self.start + i, self.seed, self.batch_size)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warmup then cosine decay to ``min_lr`` at ``cfg.steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min((step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1), 1.0)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def _distributed() -> tuple[int, int]:
    """Initialise torch.distributed when launched by torchrun; returns (rank, world size)."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _log(out_dir: Path, record: dict, echo: Callable[[str], None] | None) -> None:
    with open(out_dir / "log.jsonl", "a") as handle:
        handle.write(json.dumps(record) + "\n")
    if echo:
        echo(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))


def train(
    task: Task,
    cfg: TrainConfig,
    out_dir: Path,
    device: torch.device,
    echo: Callable[[str], None] | None = print,
    on_save: Callable[[torch.nn.Module, dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> dict:
    """Train ``task.model`` until ``cfg.steps``, resuming from ``out_dir/state.pt`` if present.

    ``on_save(ema_model, info)`` is called on rank 0 after every save (e.g. to export weights);
    ``on_step(step, total)`` after every optimiser step (e.g. for a progress bar).
    Returns the final info dict (step, wall time, last losses and validation).
    """
    rank, world = _distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = task.model.to(device)
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, wall, info, rng_state = 0, 0.0, {}, None
    state_path = out_dir / STATE_FILE
    if state_path.exists():
        state = load_state(state_path)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        rng_state = state["torch_rng"]
        step, wall, info = state["step"], state["wall_time_s"], state.get("info", {})
        if echo and rank == 0:
            echo(f"resumed from step {step}")
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    data = DataLoader(
        _Steps(task, rank, step, cfg.steps, cfg.seed, cfg.batch_size),
        batch_size=None, shuffle=False, num_workers=cfg.num_workers,
        prefetch_factor=4 if cfg.num_workers else None, persistent_workers=False,
    )
    batches = iter(data)  # draws a seed from the global RNG: restore the saved state after it (dropout resumes exactly)
    if rng_state is not None:
        torch.set_rng_state(rng_state)
    t0, last_save, sums, count = time.time(), time.time(), {}, 0

    def checkpoint() -> None:
        nonlocal last_save
        if rank == 0:
            save_state(
                state_path, model=model.state_dict(), ema=ema.state_dict(), optimizer=optimizer.state_dict(),
                torch_rng=torch.get_rng_state(), step=step, wall_time_s=wall + time.time() - t0,
                config=asdict(cfg), info=info,
            )
            if on_save:
                on_save(ema.module, {**info, "step": step, "wall_time_s": wall + time.time() - t0, "world_size": world})
        last_save = time.time()

    for batch in batches:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        losses = task.loss(net, batch.to(device))
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        ema.update_parameters(model)
        step += 1
        if on_step and rank == 0:
            on_step(step, cfg.steps)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        count += 1
        if rank == 0 and step % cfg.log_every == 0:
            record = {"step": step, "lr": learning_rate(cfg, step), **{k: v / count for k, v in sums.items()}}
            record["wall_time_s"] = round(wall + time.time() - t0, 1)
            info["train"] = record
            _log(out_dir, record, echo)
            sums, count = {}, 0
        if rank == 0 and cfg.validate_every and step % cfg.validate_every == 0:
            info["validation"] = {"step": step, **task.validate(ema.module, device)}
            _log(out_dir, {"validation": info["validation"]}, echo)
        if time.time() - last_save > cfg.save_every_s:
            checkpoint()
    checkpoint()
    if world > 1:
        dist.barrier()
    return {**info, "step": step, "wall_time_s": wall + time.time() - t0}


def training_card(cfg: TrainConfig, info: dict, device: str, **extra) -> dict:
    """The ``training`` section of a checkpoint card: steps, batch, wall time, hardware, optimiser, last logs."""
    import platform

    return {
        "steps": info.get("step"),
        "batch_size": cfg.batch_size,
        **extra,
        "wall_time_s": round(info.get("wall_time_s", 0.0), 1),
        "hardware": f"{device}; {platform.processor() or platform.machine()}; {torch.get_num_threads()} threads",
        "optimizer": {k: getattr(cfg, k) for k in ("lr", "min_lr", "weight_decay", "warmup", "grad_clip", "ema")},
        "last_log": info.get("train"),
        "last_validation": info.get("validation"),
    }


def learning_curve(run_dir: Path) -> list[dict]:
    """Validation records of a run (step, fragments seen, losses, sample validity) from its log."""
    records: dict[int, dict] = {}
    path = Path(run_dir) / "log.jsonl"
    batch = TrainConfig.batch_size
    state = Path(run_dir) / STATE_FILE
    if state.exists():
        batch = load_state(state).get("config", {}).get("batch_size", batch)
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if "validation" in entry:
            v = entry["validation"]
            records[v["step"]] = {"fragments_seen": v["step"] * batch, **v}  # a resumed run may repeat a step
    return [records[k] for k in sorted(records)]
