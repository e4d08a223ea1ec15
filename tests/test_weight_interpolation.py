"""Weight-space interpolation of two checkpoints: exact mixing, provenance, and refusal of mismatches."""

import pytest
import torch
from typer.testing import CliRunner

from gen3d.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from gen3d.weight_interpolation import interpolate_checkpoints
from gen3d_cli.app import app

CARD = {"method": "equijump", "version": "1", "config": {"width": 4}, "metrics": {"js": 0.1}}


def _pair(tmp_path, card_b=CARD, step=torch.tensor(7)):
    g = torch.Generator().manual_seed(0)
    a = {"w": torch.randn(3, 4, generator=g), "step": torch.tensor(7)}
    b = {"w": torch.randn(3, 4, generator=g), "step": step}
    save_checkpoint(tmp_path / "a", a, CARD)
    save_checkpoint(tmp_path / "b", b, card_b)
    return a, b


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_mixes_every_float_tensor(tmp_path, alpha):
    a, b = _pair(tmp_path)
    card = interpolate_checkpoints(tmp_path / "a", tmp_path / "b", alpha, tmp_path / "c")
    state, loaded = load_checkpoint(tmp_path / "c", "equijump")  # verifies the new sha256
    torch.testing.assert_close(state["w"], (1 - alpha) * a["w"] + alpha * b["w"], rtol=0, atol=1e-7)
    assert torch.equal(state["step"], a["step"])
    assert loaded["interpolation"]["alpha"] == alpha and card["sha256"] == loaded["sha256"]
    assert loaded["interpolation"]["start"]["sha256"] != loaded["interpolation"]["end"]["sha256"]
    assert loaded["interpolation"]["end"]["checkpoint"] == f"{tmp_path.name}/b"  # no full machine path in a card
    assert "metrics" not in loaded  # the parent's measurements do not describe the blend


def test_refuses_other_architecture_and_alpha(tmp_path):
    _pair(tmp_path, card_b={**CARD, "config": {"width": 8}})
    with pytest.raises(CheckpointError, match="config"):
        interpolate_checkpoints(tmp_path / "a", tmp_path / "b", 0.5, tmp_path / "c")
    with pytest.raises(CheckpointError, match="alpha"):
        interpolate_checkpoints(tmp_path / "a", tmp_path / "a", 1.5, tmp_path / "c")


def test_refuses_differing_integer_tensor(tmp_path):
    _pair(tmp_path, step=torch.tensor(8))
    with pytest.raises(CheckpointError, match="step"):
        interpolate_checkpoints(tmp_path / "a", tmp_path / "b", 0.5, tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_cli_writes_and_refuses_in_one_line(tmp_path):
    _pair(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["checkpoints", "interpolate", str(tmp_path / "a"), str(tmp_path / "b"), "--alpha", "0.5", "--out", str(tmp_path / "c")])
    assert ok.exit_code == 0, ok.output
    assert load_checkpoint(tmp_path / "c", "equijump")[1]["interpolation"]["alpha"] == 0.5
    bad = runner.invoke(app, ["checkpoints", "interpolate", str(tmp_path / "a"), str(tmp_path / "missing"), "--alpha", "0.5", "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output and "not found" in bad.output
