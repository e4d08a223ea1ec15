"""Miniprotein sampling: a latent DDPM draws coarse latents, the Ophiuchus decoder turns them into
all-heavy-atom chains. Lengths come from a ``Length`` condition or are drawn from a range."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from gen3d.checkpoints import CheckpointError, load_model, resolve, sha256_of
from gen3d.md.relax import Relaxation, RelaxError, relax_protein
from gen3d.data.protein_chains import ResidueChain, protein_from_chains
from gen3d.models.ophiuchus.autoencoder import Latent
from gen3d.models.ophiuchus.diffusion import VERSION, DiffusionConfig, LatentDiffusion, check_stochasticity
from gen3d.models.ophiuchus.schedulers import SCHEDULERS
from gen3d.models.ophiuchus.structure_guide import VERSION as GUIDE_VERSION
from gen3d.models.ophiuchus.structure_guide import ClassifierConfig, StructureClassifier, StructureGuidance
from gen3d.samplers.base import Condition, ConditionError, Length, Sampler, resolve_device
from gen3d.samplers.ophiuchus import ProteinAutoencoder
from gen3d.structures import Protein


@dataclass(frozen=True)
class Sampling:
    """How latents are drawn: a diffusers scheduler, its steps (None: its default) and, for DDIM, ``eta`` and the
    scale of the noise each stochastic step adds."""

    scheduler: str = "ddim"
    steps: int | None = None
    eta: float = 0.0
    noise_scale: float = 1.0
    guidance: float = 0.0  # scale of the secondary-structure classifier's gradient (0: unguided)

    def to_dict(self) -> dict:
        return asdict(self)


# Ancestral sampling (DDIM with eta = 1 is DDPM's posterior step) at a third of the noise. Full noise -> 0.5 took the
# share of samples with >= 30 % helix or strand from 6 to 28 % (32 samples); 0.5 -> 0.35 took it from 36 to 55 % on
# 100 relaxed samples of seed 1 (Ramachandran-allowed 92.1 -> 89.5 %): chosen there, reported on seed 0 (the card).
# Structure guidance 0.2: the smallest scale that gave >= 97 % Ramachandran-allowed on 32 relaxed samples of seed 1
# (0 / 0.1 / 0.2 / 0.3: 91.7 / 93.9 / 97.3 / 97.5 %); larger scales pack the helices less (card: guidance_sweep).
DEFAULT_SAMPLING = Sampling("ddim", 500, eta=1.0, noise_scale=0.35, guidance=0.2)
DEFAULT_GUIDE = "ophiuchus-miniproteins-ss"  # the structure classifier guided sampling loads unless told otherwise


def sampling_for(scheduler: str | None = None, steps: int | None = None, eta: float | None = None,
                 noise_scale: float | None = None, guidance: float | None = None) -> Sampling:
    """Settings from the options given: with no scheduler named, :data:`DEFAULT_SAMPLING` fills the rest;
    with one named, that scheduler's plain defaults (DDIM: deterministic, full noise, unguided) do."""
    base = DEFAULT_SAMPLING if scheduler is None else Sampling(scheduler)
    given = {"steps": steps, "eta": eta, "noise_scale": noise_scale, "guidance": guidance}
    return replace(base, **{k: v for k, v in given.items() if v is not None})


class MiniproteinSampler(Sampler):
    """Unconditional miniproteins of a length range (or a fixed ``Length``) from a latent DDPM checkpoint;
    decoded chains are Amber-relaxed unless ``relax`` is None. ``sampling.guidance > 0`` steers the latents toward
    helix and strand with ``guide``, a secondary-structure classifier read in the DDPM's normalised space."""

    conditions = (Length,)

    def __init__(self, diffusion: LatentDiffusion, autoencoder: ProteinAutoencoder, lengths: tuple[int, int] = (40, 70),
                 sampling: Sampling = DEFAULT_SAMPLING, relax: Relaxation | None = Relaxation(),
                 guide: StructureClassifier | None = None) -> None:
        if sampling.scheduler not in SCHEDULERS:
            raise ConditionError(f"unknown scheduler {sampling.scheduler!r}; choose one of {', '.join(SCHEDULERS)}")
        try:
            check_stochasticity(sampling.scheduler, sampling.eta, sampling.noise_scale)
        except ValueError as err:
            raise ConditionError(str(err)) from None
        if not 1 <= lengths[0] <= lengths[1]:
            raise ConditionError(f"length range must satisfy 1 <= MIN <= MAX, got {lengths}")
        if sampling.guidance < 0:
            raise ConditionError(f"guidance scale must be >= 0, got {sampling.guidance}")
        if sampling.guidance > 0 and guide is None:
            raise ConditionError("guidance > 0 needs a secondary-structure classifier")
        if guide is not None and not guide.matches(diffusion):
            raise CheckpointError("the structure classifier was trained on another DDPM's latent normalisation")
        self.diffusion, self.autoencoder, self.guide = diffusion.eval(), autoencoder, guide
        self.lengths, self.sampling, self.relax = lengths, sampling, relax

    @classmethod
    def from_checkpoint(cls, checkpoint: str, autoencoder: str | None = None, guide: str | None = None,
                        **kwargs) -> "MiniproteinSampler":
        """Load a verified latent-DDPM checkpoint, the autoencoder its card names (sha256 checked) and, when the
        sampling is guided, the structure classifier ``guide`` (default :data:`DEFAULT_GUIDE`)."""
        model, card = load_model(checkpoint, "ophiuchus-ddpm", VERSION, lambda c: LatentDiffusion(DiffusionConfig.from_dict(c)))
        ae = card.get("autoencoder", {})
        ae_path = autoencoder or ae.get("name", "")
        if sha256_of(resolve(ae_path) / "model.safetensors") != ae.get("sha256"):
            raise CheckpointError(f"autoencoder {ae_path!r} is not the one this denoiser was trained on (sha256 differs)")
        if kwargs.get("sampling", DEFAULT_SAMPLING).guidance > 0 or guide is not None:
            kwargs["guide"] = load_model(guide or DEFAULT_GUIDE, "ophiuchus-structure-classifier", GUIDE_VERSION,
                                         lambda c: StructureClassifier(ClassifierConfig.from_dict(c)))[0]
        sampler = cls(model, ProteinAutoencoder.from_checkpoint(ae_path), **kwargs)
        sampler.card = card
        return sampler

    @torch.no_grad()
    def sample(self, num: int, *, seed: int = 0, batch_size: int = 16, device: str | torch.device = "cpu",
               condition: Condition | None = None) -> Iterator[Protein]:
        self.check_condition(condition)
        device = resolve_device(device)
        self.diffusion.to(device)
        self.autoencoder.model.to(device)
        self.autoencoder.device = device
        rng = np.random.default_rng(seed)
        if condition is not None and condition.value < 1:
            raise ConditionError(f"length must be positive, got {condition.value}")
        lengths = [condition.value] * num if condition is not None else rng.integers(self.lengths[0], self.lengths[1] + 1, size=num).tolist()
        generator = torch.Generator(device=device).manual_seed(seed)
        c = self.autoencoder.compression
        guidance = None
        if self.sampling.guidance > 0:
            guidance = StructureGuidance(self.guide.to(device), self.sampling.guidance)
        for start in range(0, num, batch_size):
            part = lengths[start : start + batch_size]
            nodes = [-(-n // c) for n in part]
            pos, feat, mask = self.diffusion.sample(nodes, self.sampling.scheduler, self.sampling.steps, generator=generator,
                                                    device=device, eta=self.sampling.eta, noise_scale=self.sampling.noise_scale,
                                                    guidance=guidance)
            templates = [ResidueChain(np.zeros(n, dtype=np.int64), np.zeros((n, 14, 3), np.float32), np.zeros((n, 14), bool), "A",
                                      np.arange(1, n + 1), np.full(n, "", dtype=str)) for n in part]
            chains = self.autoencoder.decode(Latent(pos, feat, mask), templates)
            for k, chain in enumerate(chains):
                protein = self._relaxed(protein_from_chains([chain], name=f"gen3d-ophiuchus-{start + k}"))
                protein.properties["length"] = len(chain)
                yield protein

    def _relaxed(self, protein: Protein) -> Protein:
        """Amber-relaxed ``protein`` (``properties["relaxed"]`` says whether it was; a failure keeps it as decoded)."""
        if self.relax is None:
            return protein
        try:
            relaxed = relax_protein(protein, self.relax)
        except RelaxError as err:
            protein.properties.update(relaxed=False, relax_error=str(err))
            return protein
        relaxed.properties["relaxed"] = True
        return relaxed
