"""Registry: model name -> (method, model class, sampler class, default checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelEntry:
    """Where to find the pieces of one generative model (imported lazily by dotted path)."""

    name: str
    method: str
    area: str
    model: str
    sampler: str
    checkpoint: str
    description: str

    def sampler_class(self) -> type:
        """Import and return the sampler class."""
        import importlib

        module, _, attr = self.sampler.rpartition(".")
        return getattr(importlib.import_module(module), attr)


REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add a model to the registry (names are unique)."""
    if entry.name in REGISTRY:
        raise ValueError(f"model '{entry.name}' is already registered")
    REGISTRY[entry.name] = entry
    return entry


def get(name: str) -> ModelEntry:
    """The registered model called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model '{name}' (known: {', '.join(sorted(REGISTRY))})") from None


def for_method(method: str) -> list[ModelEntry]:
    """All registered models of one method (e.g. ``symphony``)."""
    return [e for e in REGISTRY.values() if e.method == method]


register(
    ModelEntry(
        name="symphony-qm9",
        method="symphony",
        area="molecules",
        model="gen3d.models.symphony.Symphony",
        sampler="gen3d.samplers.symphony.SymphonySampler",
        checkpoint="symphony-qm9",
        description="Symphony: autoregressive E(3)-equivariant generation of QM9-like molecules (H, C, N, O, F)",
    )
)
register(
    ModelEntry(
        name="ophiuchus-pdb-x2",
        method="ophiuchus",
        area="proteins",
        model="gen3d.models.ophiuchus.autoencoder.Ophiuchus",
        sampler="gen3d.samplers.ophiuchus.ProteinAutoencoder",
        checkpoint="ophiuchus-pdb-x2",
        description="Ophiuchus autoencoder, 2 residues per latent node: reconstruct and interpolate all-heavy-atom proteins",
    )
)
register(
    ModelEntry(
        name="ophiuchus-pdb-x2-decoder",
        method="ophiuchus",
        area="proteins",
        model="gen3d.models.ophiuchus.autoencoder.Ophiuchus",
        sampler="gen3d.samplers.ophiuchus.ProteinAutoencoder",
        checkpoint="ophiuchus-pdb-x2-decoder",
        description="ophiuchus-pdb-x2 with a decoder fine-tuned on noisy latents: decodes near-miss latents (e.g. a DDPM's) to valid chains",
    )
)
register(
    ModelEntry(
        name="ophiuchus-pdb-x2-robust",
        method="ophiuchus",
        area="proteins",
        model="gen3d.models.ophiuchus.autoencoder.Ophiuchus",
        sampler="gen3d.samplers.ophiuchus.ProteinAutoencoder",
        checkpoint="ophiuchus-pdb-x2-robust",
        description="ophiuchus-pdb-x2 with a decoder trained on latents noised up to their features' own spread: builds chains from node positions when features are poor",
    )
)
register(
    ModelEntry(
        name="ophiuchus-pdb-x8",
        method="ophiuchus",
        area="proteins",
        model="gen3d.models.ophiuchus.autoencoder.Ophiuchus",
        sampler="gen3d.samplers.ophiuchus.ProteinAutoencoder",
        checkpoint="ophiuchus-pdb-x8",
        description="Ophiuchus autoencoder, 8 residues per latent node: reconstruct all-heavy-atom proteins through a small latent",
    )
)
register(
    ModelEntry(
        name="ophiuchus-miniproteins",
        method="ophiuchus-ddpm",
        area="proteins",
        model="gen3d.models.ophiuchus.diffusion.LatentDiffusion",
        sampler="gen3d.samplers.ophiuchus_ddpm.MiniproteinSampler",
        checkpoint="ophiuchus-miniproteins",
        description="Latent DDPM (frame denoiser) on the principal components of ophiuchus-pdb-x2 latents, decoded by ophiuchus-pdb-x2-robust: miniproteins of 40-80 residues (experimental: samples fail quality checks)",
    )
)
register(
    ModelEntry(
        name="equijump-ala2",
        method="equijump",
        area="dynamics",
        model="gen3d.models.equijump.FrameJumpNet",
        sampler="gen3d.samplers.equijump.DynamicsSampler",
        checkpoint="equijump-ala2",
        description="EquiJump: 100 ps stochastic-interpolant jumps of alanine dipeptide (amber14 + OBC2, 300 K), canonical-frame network",
    )
)
register(
    ModelEntry(
        name="equijump-cln025",
        method="equijump",
        area="dynamics",
        model="gen3d.models.equijump.LocalFrameJumpNet",
        sampler="gen3d.samplers.equijump.DynamicsSampler",
        checkpoint="equijump-cln025",
        description="EquiJump: 50 ps jumps of chignolin CLN025 (amber14 + OBC2, 300 K), residue-frame network, projected onto the start's covalent geometry",
    )
)
