"""Training loop: a few steps learn, resume continues exactly, exports load, DDP runs on gloo."""

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import torch

from gen3d.checkpoints import load_checkpoint
from gen3d.samplers.symphony import SymphonySampler
from gen3d.train.config import load_config
from gen3d.train.loop import TrainConfig, learning_rate, train
from gen3d.train.symphony import SymphonyTask
from tests.helpers import TINY, toy_qm9

CFG = TrainConfig(steps=4, batch_size=8, lr=3e-3, warmup=1, log_every=1, validate_every=0, save_every_s=0.0, num_workers=0)


def _run(out: Path, cfg: TrainConfig) -> dict:
    task = SymphonyTask(TINY, noise=0.01, qm9=toy_qm9())
    return train(task, cfg, out, torch.device("cpu"), echo=None)


def test_resume_matches_an_uninterrupted_run(tmp_path):
    _run(tmp_path / "straight", CFG)
    _run(tmp_path / "split", replace(CFG, steps=2))
    info = _run(tmp_path / "split", CFG)
    assert info["step"] == 4
    a = torch.load(tmp_path / "straight" / "state.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split" / "state.pt", weights_only=True)["model"]
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key


def test_log_and_learning_rate_schedule(tmp_path):
    _run(tmp_path, CFG)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 4 and '"loss"' in lines[0]
    cfg = TrainConfig(steps=100, lr=1.0, min_lr=0.0, warmup=10)
    assert learning_rate(cfg, 0) == 0.1 and learning_rate(cfg, 10) == 1.0 and learning_rate(cfg, 100) < 1e-9


def test_export_is_a_loadable_checkpoint(tmp_path):
    from gen3d.train.symphony import make_card
    from gen3d.checkpoints import save_checkpoint

    task = SymphonyTask(TINY, qm9=toy_qm9())
    info = train(task, replace(CFG, steps=2), tmp_path, torch.device("cpu"), echo=None)
    save_checkpoint(tmp_path / "export", task.model.state_dict(), make_card(TINY, CFG, {}, info, "cpu"))
    state, card = load_checkpoint(tmp_path / "export", "symphony")
    assert card["training"]["steps"] == 2
    sampler = SymphonySampler.from_checkpoint(str(tmp_path / "export"))
    assert len(list(sampler.sample(2, seed=0, batch_size=2))) == 2


def test_validation_samples_and_scores():
    task = SymphonyTask(TINY, qm9=toy_qm9())
    metrics = task.validate(task.model, torch.device("cpu"))
    assert {"valid_loss", "sample_validity", "sample_mean_atoms"} <= set(metrics)
    assert 0.0 <= metrics["sample_validity"] <= 1.0


def test_config_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 10\n[model]\nnum_layers = 2\n")
    cfg = load_config(path, ["train.steps=20", "model.irreps_hidden=8x0e", "data.noise=0.1"])
    assert cfg["train"]["steps"] == 20 and cfg["model"]["irreps_hidden"] == "8x0e" and cfg["data"]["noise"] == 0.1


def test_a_trainer_without_warm_starts_rejects_init_from():
    import pytest

    from gen3d.train.config import ConfigError
    from gen3d.train.symphony import build_configs

    with pytest.raises(ConfigError, match="init_from"):
        build_configs({"train": {"init_from": "symphony-qm9"}, "model": {}})


SCRIPT = textwrap.dedent(
    """
    import sys, torch, torch.distributed as dist
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from gen3d.train.loop import TrainConfig, train
    from gen3d.train.symphony import SymphonyTask
    from tests.helpers import TINY, toy_qm9
    torch.set_num_threads(1)
    task = SymphonyTask(TINY, qm9=toy_qm9())
    cfg = TrainConfig(steps=3, batch_size=4, warmup=1, log_every=1, validate_every=0, save_every_s=1e9, num_workers=0)
    train(task, cfg, Path({out!r}), torch.device("cpu"), echo=None)
    flat = torch.cat([p.detach().flatten() for p in task.model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    assert dist.get_world_size() == 2
    assert torch.equal(gathered[0], gathered[1]), "replicas diverged"
    print("rank", dist.get_rank(), "ok")
    dist.destroy_process_group()
    """
)


def test_ddp_two_cpu_processes_on_gloo(tmp_path):
    root = str(Path(__file__).resolve().parent.parent)
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT.format(root=root, out=str(tmp_path / "run")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533", str(script)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("ok") == 2
    assert (tmp_path / "run" / "state.pt").exists()
