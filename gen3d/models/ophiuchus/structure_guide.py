"""Secondary-structure guidance for the latent DDPM: a classifier of noisy latents and the gradient it adds.

The classifier reads a noisy latent chain in the DDPM's normalised space (positions, features, timestep)
and predicts, per coarse node, the DSSP class fractions (loop, helix, strand) of the residues it
covers. Its network is a small :class:`FrameDenoiser` whose first three scalar outputs are the
logits, so they are invariant to rotations and translations of the chain and the guidance gradient
rotates with it. Sampling adds ``scale * grad log p(helix or strand)``, summed over nodes, to the
denoiser's score (Dhariwal & Nichol 2021, classifier guidance): the unguided model makes loops where
natural chains of the same length have helices.

The classifier keeps copies of the DDPM normalisation buffers it was trained under, so a sampler can
refuse a classifier that would read latents in another space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from e3nn import o3
from torch import Tensor, nn

from gen3d.models.configs import known_fields
from gen3d.models.ophiuchus.denoiser import DenoiserConfig
from gen3d.models.ophiuchus.diffusion import LatentDiffusion, centre
from gen3d.models.ophiuchus.frame_denoiser import FrameDenoiser
from gen3d.models.ophiuchus.schedulers import make_scheduler

VERSION = "ophiuchus-structure-classifier/v1"
CLASSES = ("loop", "helix", "strand")
NORMALISATION = ("position_scale", "feature_shift", "feature_scale", "source_shift", "projection")


@dataclass(frozen=True)
class ClassifierConfig:
    """Settings of :class:`StructureClassifier` (stored verbatim in its card)."""

    network: DenoiserConfig = field(default_factory=lambda: DenoiserConfig(
        architecture="frames", width=96, heads=4, pair_dim=16, num_layers=3, num_basis=16, cutoff=7.5))
    num_train_timesteps: int = 1000
    source_irreps: str = ""  # the DDPM's source_irreps (it works on principal components of that latent)

    def to_dict(self) -> dict:
        out = {"network": self.network.to_dict(), "num_train_timesteps": self.num_train_timesteps}
        return {**out, "source_irreps": self.source_irreps} if self.source_irreps else out

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        d = known_fields(cls, d, "structure classifier")
        if "network" in d:
            d["network"] = DenoiserConfig.from_dict(d["network"])
        return cls(**d)


class StructureClassifier(nn.Module):
    """Per-node DSSP-class logits of noisy normalised latents; ``forward`` gives logits, :meth:`loss` trains."""

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ClassifierConfig()
        if c.network.architecture != "frames":
            raise ValueError("the structure classifier's network must have architecture = \"frames\"")
        if c.network.self_condition:
            raise ValueError("the structure classifier reads no x0 estimate (self_condition = false)")
        self.network = FrameDenoiser(c.network)
        dim = self.network.irreps_latent.dim
        self.register_buffer("position_scale", torch.tensor(1.0))
        self.register_buffer("feature_shift", torch.zeros(dim))
        self.register_buffer("feature_scale", torch.ones(dim))
        if c.source_irreps:
            source = o3.Irreps(c.source_irreps).dim
            self.register_buffer("source_shift", torch.zeros(source))
            self.register_buffer("projection", torch.zeros(dim, source))
        alphas_cumprod = make_scheduler("ddpm", c.num_train_timesteps).alphas_cumprod.clone()
        self.register_buffer("alphas_cumprod", alphas_cumprod, persistent=False)

    @torch.no_grad()
    def copy_normalisation(self, diffusion: LatentDiffusion) -> None:
        """Take the DDPM's normalisation (the space this classifier reads latents in)."""
        for name in NORMALISATION:
            mine, theirs = getattr(self, name, None), getattr(diffusion, name, None)
            if (mine is None) != (theirs is None) or (mine is not None and mine.shape != theirs.shape):
                raise ValueError(f"the DDPM's {name} does not fit this classifier (source_irreps or latent_irreps differ)")
            if mine is not None:
                mine.copy_(theirs)

    def matches(self, diffusion: LatentDiffusion) -> bool:
        """Whether ``diffusion`` normalises latents exactly as the latents this classifier was trained on."""
        for name in NORMALISATION:
            mine, theirs = getattr(self, name, None), getattr(diffusion, name, None)
            if (mine is None) != (theirs is None):
                return False
            if mine is not None and (mine.shape != theirs.shape or not torch.equal(mine.cpu(), theirs.cpu())):
                return False
        return int(self.config.num_train_timesteps) == int(diffusion.config.num_train_timesteps)

    def forward(self, positions: Tensor, features: Tensor, t: Tensor, mask: Tensor) -> Tensor:
        """Logits ``(B, N, 3)`` over :data:`CLASSES` for noisy normalised latents at timesteps ``t`` (B,)."""
        return self.network(positions, features, t, mask)[1][..., : len(CLASSES)]

    def loss(self, positions: Tensor, features: Tensor, labels: Tensor, mask: Tensor,
             generator: torch.Generator | None = None, t: Tensor | None = None) -> dict[str, Tensor]:
        """Soft cross-entropy against per-node class fractions ``labels (B, N, 3)`` at timesteps ``t`` (None: random,
        one per chain), on latents already normalised (:meth:`LatentDiffusion.normalise`); also argmax accuracy."""
        mask = mask.bool()
        B = positions.shape[0]
        device = generator.device if generator is not None else positions.device
        if t is None:
            t = torch.randint(0, self.config.num_train_timesteps, (B,), generator=generator, device=device)
        t = t.to(positions.device)
        ab = self.alphas_cumprod[t].to(positions.dtype).view(B, 1, 1)
        noise_pos = centre(torch.randn(positions.shape, generator=generator, device=device).to(positions), mask)
        noise_feat = torch.randn(features.shape, generator=generator, device=device).to(features) * mask[..., None]
        logits = self(ab.sqrt() * positions + (1 - ab).sqrt() * noise_pos,
                      ab.sqrt() * features + (1 - ab).sqrt() * noise_feat, t, mask)
        m = mask.to(positions.dtype)
        count = m.sum().clamp_min(1)
        ce = -(labels * torch.log_softmax(logits, -1)).sum(-1)
        hit = (logits.argmax(-1) == labels.argmax(-1)).to(positions.dtype)
        return {"loss": (ce * m).sum() / count, "accuracy": ((hit * m).sum() / count).detach()}


class StructureGuidance:
    """``scale * grad log p(helix or strand)`` of a classifier, summed over real nodes, as a callable for
    :meth:`LatentDiffusion.sample` (gradients with respect to the normalised positions and features)."""

    def __init__(self, classifier: StructureClassifier, scale: float) -> None:
        if scale < 0:
            raise ValueError(f"guidance scale must be >= 0, got {scale}")
        self.classifier, self.scale = classifier.eval(), float(scale)

    def __call__(self, positions: Tensor, features: Tensor, t: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        pos, feat = positions.detach().requires_grad_(True), features.detach().requires_grad_(True)
        with torch.enable_grad():
            log_p = torch.log_softmax(self.classifier(pos, feat, t, mask), -1)
            structured = (torch.logsumexp(log_p[..., 1:], -1) * mask).sum()
            grad_pos, grad_feat = torch.autograd.grad(structured, (pos, feat))
        return self.scale * centre(grad_pos, mask.bool()), self.scale * grad_feat * mask[..., None]
