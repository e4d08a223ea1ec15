"""Small real protein chains from the MDAnalysisTests package, and a random-weight Ophiuchus checkpoint."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.models.ophiuchus.autoencoder import Ophiuchus
from gen3d.models.ophiuchus.config import VERSION, OphiuchusConfig

TINY_AE = OphiuchusConfig(irreps_hidden="8x0e + 4x1o + 2x2e", irreps_latent="8x0e + 4x1o + 2x2e", levels=2, neighbors=6)


def mdanalysis_data() -> Path:
    """The data folder of the MDAnalysisTests package (a test dependency)."""
    spec = importlib.util.find_spec("MDAnalysisTests")
    assert spec is not None and spec.submodule_search_locations, "MDAnalysisTests is a test dependency"
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def dssp_chain(name: str = "4gcnA") -> Path:
    return mdanalysis_data() / "dssp" / f"{name}.pdb.gz"


def tiny_autoencoder(folder: Path, seed: int = 0, config: OphiuchusConfig = TINY_AE) -> Path:
    """A random-weight Ophiuchus checkpoint folder for sampler and CLI tests."""
    torch.manual_seed(seed)
    model = Ophiuchus(config)
    save_checkpoint(folder, model.state_dict(), {"name": "tiny", "method": "ophiuchus", "version": VERSION, "config": config.to_dict()})
    return folder
