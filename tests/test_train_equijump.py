"""EquiJump training: the loss falls on real MD pairs, validation rolls out, the export is a loadable checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gen3d.data.md_frames import lagged_pairs, load_trajectories
from gen3d.samplers.equijump import load_jump_model
from gen3d.train.config import load_config
from gen3d.train.equijump import EquiJumpTask, build_configs, sample_times, train_equijump
from tests.dynamics_fixtures import TINY_JUMP, ala2_md


def _tiny_config(md, **train) -> dict:
    """A training config for the tiny network on one MD folder, half of it held out."""
    return {
        "name": "tiny", "model": {**TINY_JUMP.to_dict(), "vocabulary": []},
        "train": {"batch_size": 4, "num_workers": 0, "warmup": 1, **train},
        "data": {"trajectories": [str(md)], "valid_fraction": 0.5},
    }


def test_lagged_pairs_are_centred_and_aligned(tmp_path):
    import numpy as np

    data = load_trajectories(ala2_md(tmp_path / "md", ns=0.01))
    x0, x1 = lagged_pairs(data.trajectories, 2, np.random.default_rng(0), 8)
    assert np.abs(x0.mean(1)).max() < 1e-9 and np.abs(x1.mean(1)).max() < 1e-9
    # aligned: rotating x1 further can only increase its distance to x0
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    assert (((x1 - x0) ** 2).sum((1, 2)) <= ((x1 @ q.T - x0) ** 2).sum((1, 2)) + 1e-9).all()


def test_late_times_are_denser_near_one():
    torch.manual_seed(0)
    s = sample_times(20000, 1.0, "cpu")
    assert 0 <= float(s.min()) and float(s.max()) <= 1 and float((s > 0.75).float().mean()) > 0.45


def test_loss_falls_when_fitting_a_fixed_batch(tmp_path):
    data = load_trajectories(ala2_md(tmp_path / "md", ns=0.01))
    task = EquiJumpTask(TINY_JUMP, data, valid_fraction=0.5)
    batch = task.batch(0, 0, 0, 16)
    opt = torch.optim.Adam(task.model.parameters(), 1e-2)
    losses = []
    for _ in range(40):
        torch.manual_seed(0)  # the same noise every step: a pure fitting problem
        loss = task.loss(task.model, batch)
        opt.zero_grad()
        loss["loss"].backward()
        opt.step()
        losses.append(float(loss["loss"].detach()))
    assert losses[-1] < 0.5 * losses[0] and {"endpoint", "denoiser", "bond"} <= set(loss)


def test_training_run_exports_a_checkpoint_with_rollout_validation(tmp_path):
    config = _tiny_config(ala2_md(tmp_path / "md", ns=0.02), steps=4, validate_every=4, log_every=2)
    info = train_equijump(config, tmp_path / "run", torch.device("cpu"), echo=None)
    assert info["step"] == 4 and "rollout_js_phi_psi" in info["validation"]
    model, card = load_jump_model(str(tmp_path / "run" / "export"))
    assert card["method"] == "equijump" and card["data"]["train_frames"] == 20 and card["tau_ps"] == 1.0
    assert card["data"]["protocol"]["forcefield"] == ["amber14-all.xml", "implicit/obc2.xml"]  # read from the run, not typed
    assert "ALA:CB" in model.config.vocabulary
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("validation" in r for r in log)


def test_a_run_can_start_from_a_checkpoint_and_says_so(tmp_path):
    import pytest
    from safetensors.torch import load_file

    from gen3d.train.config import ConfigError

    config = _tiny_config(ala2_md(tmp_path / "md", ns=0.02), steps=2, validate_every=100, log_every=1)
    train_equijump(config, tmp_path / "first", torch.device("cpu"), echo=None)
    start = tmp_path / "first" / "export"
    frozen = {**config, "train": {**config["train"], "lr": 0.0, "min_lr": 0.0, "init_from": str(start)}}
    train_equijump(frozen, tmp_path / "second", torch.device("cpu"), echo=None)
    first, second = load_file(str(start / "model.safetensors")), load_file(str(tmp_path / "second" / "export" / "model.safetensors"))
    assert all(torch.equal(first[k], second[k]) for k in first)  # lr 0: the start's weights, unchanged
    card = json.loads((tmp_path / "second" / "export" / "card.json").read_text())
    assert card["training"]["init_from"]["sha256"] == json.loads((start / "card.json").read_text())["sha256"]
    other = {**frozen, "model": {**frozen["model"], "layers": 1}}
    with pytest.raises(ConfigError, match="layers"):
        train_equijump(other, tmp_path / "third", torch.device("cpu"), echo=None)


def test_shipped_cards_are_described_by_their_config_files():
    # Each shipped EquiJump card names the config it was trained with; that file must build and
    # state the card's model settings and optimisation, so `gen3d dynamics train --config` retrains it.
    root = Path(__file__).resolve().parents[1]
    for name in ("equijump-ala2", "equijump-cln025"):
        card = json.loads((root / "checkpoints" / name / "card.json").read_text())
        config = load_config(root / card["training"]["config_file"])
        _, train_cfg, data_cfg = build_configs(config)
        assert {k: card["config"][k] for k in config["model"]} == config["model"], name
        optimizer = card["training"]["optimizer"]
        assert (train_cfg.steps, train_cfg.batch_size, train_cfg.lr) == (card["training"]["steps"], card["training"]["batch_size"], optimizer["lr"]), name
        assert data_cfg["trajectories"] == card["data"]["trajectories"], name
