"""A few picoseconds of real alanine-dipeptide MD and a random-weight EquiJump checkpoint trained on nothing."""

from __future__ import annotations

from pathlib import Path

import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.data.md_frames import load_trajectories
from gen3d.md import build_capped_peptide, simulate
from gen3d.models.equijump import EquiJumpConfig
from gen3d.train.equijump import EquiJumpTask, make_card
from gen3d.train.loop import TrainConfig

TINY_JUMP = EquiJumpConfig(irreps_hidden="8x0e + 4x1o + 2x2e", layers=2, num_basis=6, radial_hidden=8, tau_ps=1.0)


def ala2_md(folder: Path, ns: float = 0.02, seed: int = 1) -> Path:
    """Alanine dipeptide, default protocol, frames every 0.5 ps after 1 ps of equilibration."""
    simulate(build_capped_peptide("A"), folder, ns, 0.5, seed=seed, platform="Reference", equilibration_ps=1.0)
    return folder


def tiny_equijump(folder: Path, md_folder: Path, config: EquiJumpConfig = TINY_JUMP, seed: int = 0) -> Path:
    """A random-weight EquiJump checkpoint whose card carries the MD folder's topology."""
    torch.manual_seed(seed)
    task = EquiJumpTask(config, load_trajectories(md_folder), valid_fraction=0.5, seed=seed)
    card = make_card("tiny-jump", task, TrainConfig(steps=0), {"trajectories": [md_folder.name]}, {"step": 0}, "cpu")
    save_checkpoint(folder, task.model.state_dict(), card)
    return folder
