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


def tiny_denoiser(folder: Path, autoencoder: Path, seed: int = 0) -> Path:
    """A random-weight latent-DDPM checkpoint on top of ``autoencoder`` (its card records the sha256)."""
    from gen3d.checkpoints import sha256_of
    from gen3d.models.ophiuchus.denoiser import DenoiserConfig
    from gen3d.models.ophiuchus.diffusion import VERSION as DDPM_VERSION
    from gen3d.models.ophiuchus.diffusion import DiffusionConfig, LatentDiffusion

    torch.manual_seed(seed)
    cfg = DiffusionConfig(denoiser=DenoiserConfig(latent_irreps=TINY_AE.irreps_latent, irreps_hidden="8x0e + 4x1o + 2x2e", num_layers=1))
    model = LatentDiffusion(cfg)
    card = {"name": "tiny-ddpm", "method": "ophiuchus-ddpm", "version": DDPM_VERSION, "config": cfg.to_dict(),
            "autoencoder": {"name": str(autoencoder), "sha256": sha256_of(autoencoder / "model.safetensors")}}
    save_checkpoint(folder, model.state_dict(), card)
    return folder


def tiny_classifier(folder: Path, denoiser: Path, seed: int = 0) -> Path:
    """A random-weight structure classifier in ``denoiser``'s normalised space (its buffers copied)."""
    from gen3d.checkpoints import load_model
    from gen3d.models.ophiuchus.denoiser import DenoiserConfig
    from gen3d.models.ophiuchus.diffusion import VERSION as DDPM_VERSION
    from gen3d.models.ophiuchus.diffusion import DiffusionConfig, LatentDiffusion
    from gen3d.models.ophiuchus.structure_guide import VERSION as GUIDE_VERSION
    from gen3d.models.ophiuchus.structure_guide import ClassifierConfig, StructureClassifier

    diffusion, _ = load_model(denoiser, "ophiuchus-ddpm", DDPM_VERSION, lambda c: LatentDiffusion(DiffusionConfig.from_dict(c)))
    torch.manual_seed(seed)
    cfg = ClassifierConfig(network=DenoiserConfig(latent_irreps=TINY_AE.irreps_latent, architecture="frames", window=3,
                                                  width=16, heads=4, pair_dim=8, num_layers=1))
    model = StructureClassifier(cfg)
    model.copy_normalisation(diffusion)
    card = {"name": "tiny-ss", "method": "ophiuchus-structure-classifier", "version": GUIDE_VERSION, "config": cfg.to_dict()}
    save_checkpoint(folder, model.state_dict(), card)
    return folder


def toy_fragments(folder: Path):
    """A fragment dataset from three real chains, every segment marked ``train`` (and copies as valid/test)."""
    import shutil

    import numpy as np

    from gen3d.data.protein_corpus import build_fragments, structure_files

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("4gcnA", "3aqgA", "1ahsA"):
        shutil.copy(dssp_chain(name), folder / f"{name}.pdb.gz")
    data = build_fragments(structure_files(folder), min_length=30)
    n = len(data)
    pick = np.concatenate([np.arange(n)] * 3)
    splits = np.array(["train"] * n + ["valid"] * n + ["test"] * n)
    lengths = data.lengths[pick]
    starts = data.offsets[pick]
    index = np.concatenate([np.arange(a, a + l) for a, l in zip(starts, lengths)])
    from gen3d.data.protein_corpus import FragmentSet

    return FragmentSet(
        data.aatype[index], data.coords[index], data.mask[index], np.concatenate([[0], np.cumsum(lengths)]),
        data.entries[pick], data.chains[pick], splits, data.whole[pick], data.first_numbers[pick],
    )
