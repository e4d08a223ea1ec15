"""Latent DDPM for Ophiuchus: normalisation, v-prediction loss and scheduler-driven sampling of padded latent chains.

Latents are ``positions (B, N, 3)`` in Å, ``features (B, N, D)`` with irreps ``latent_irreps`` and
``mask (B, N)`` (padding at the end). Diffusion runs in a normalised space: positions centred
per sample and divided by ``position_scale``; features shifted (scalar ``0e`` channels only, so
rotations still act the same) and divided per irrep channel to unit RMS. With ``source_irreps``
set, the autoencoder's latent (those irreps) is first projected onto its leading equivariant
principal components (``latent_irreps``: for each irrep type, the top eigenvectors of the channel
covariance, applied alike to every m component, so projection commutes with rotations); the
model then spends itself on the directions that carry the structure instead of on many
low-variance channels, and samples are lifted back with the transpose. The normalisation is
kept in buffers, so it travels in the safetensors state dict. Positional noise lives in the
zero-centre-of-mass subspace (the model is translation invariant), feature noise is plain Gaussian.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from e3nn import o3
from torch import Tensor, nn

from gen3d.models.configs import known_fields
from gen3d.models.ophiuchus.denoiser import DenoiserConfig, LatentDenoiser
from gen3d.models.ophiuchus.schedulers import default_steps, make_scheduler

VERSION = "ophiuchus-latent-ddpm/v1"
SAMPLE_RANGE_MARGIN = 1.5
# Classifier guidance moves v by sqrt((1 - a) / a) times the gradient, which diverges as a -> 0 (pure noise);
# capped here (reached at a ~ 0.01, the first few percent of the cosine schedule).
GUIDANCE_FACTOR_MAX = 10.0

Guidance = Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class DiffusionConfig:
    """Settings of :class:`LatentDiffusion` (stored verbatim in checkpoint cards)."""

    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    position_scale: float = 10.0  # Å per unit of the normalised positions
    num_train_timesteps: int = 1000
    position_loss_weight: float = 1.0
    source_irreps: str = ""  # the autoencoder's latent irreps when the model works on its principal components

    def to_dict(self) -> dict:
        out = {
            "denoiser": self.denoiser.to_dict(), "position_scale": self.position_scale,
            "num_train_timesteps": self.num_train_timesteps, "position_loss_weight": self.position_loss_weight,
        }
        return {**out, "source_irreps": self.source_irreps} if self.source_irreps else out

    @classmethod
    def from_dict(cls, d: dict) -> "DiffusionConfig":
        d = known_fields(cls, d, "latent diffusion")
        if "denoiser" in d:
            d["denoiser"] = DenoiserConfig.from_dict(d["denoiser"])
        return cls(**d)


def build_denoiser(config: DenoiserConfig) -> nn.Module:
    """The denoiser network ``config.architecture`` names."""
    if config.architecture == "frames":
        from gen3d.models.ophiuchus.frame_denoiser import FrameDenoiser

        return FrameDenoiser(config)
    return LatentDenoiser(config)


def _randn(shape: Sequence[int], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """Standard normal draws on ``generator``'s device (reproducible across target devices), moved to ``like``."""
    device = generator.device if generator is not None else like.device
    return torch.randn(tuple(shape), generator=generator, device=device, dtype=like.dtype).to(like.device)


def check_stochasticity(scheduler_name: str, eta: float, noise_scale: float) -> bool:
    """Whether sampling adds noise of its own (DDIM with ``eta > 0``); settings other schedulers ignore are refused."""
    if not (0.0 <= eta <= 1.0 and noise_scale >= 0.0):
        raise ValueError(f"need 0 <= eta <= 1 and noise_scale >= 0, got eta={eta}, noise_scale={noise_scale}")
    if scheduler_name != "ddim" and (eta != 0.0 or noise_scale != 1.0):
        raise ValueError(f"eta and noise_scale apply to the ddim scheduler, not {scheduler_name}")
    return scheduler_name == "ddim" and eta > 0.0


def channel_spread(features: Tensor, irreps: o3.Irreps | str) -> tuple[Tensor, Tensor]:
    """Per-dimension ``(shift, spread)`` of features ``(M, D)``: the mean of scalar (0e) dimensions (zero elsewhere,
    so rotations still act the same) and each irrep channel's RMS about it, shared by its 2l+1 components (1 where
    a channel is dead). Dividing by the spread commutes with rotations."""
    irreps = o3.Irreps(irreps)
    scalar = torch.cat([torch.full((mul * ir.dim,), ir.l == 0 and ir.p == 1) for mul, ir in irreps]).to(features.device)
    shift = torch.where(scalar, features.mean(0), torch.zeros_like(features[0]))
    spread = torch.empty_like(shift)
    for sl, (mul, ir) in zip(irreps.slices(), irreps):
        block = (features[:, sl] - shift[sl]).reshape(len(features), mul, ir.dim)
        rms = block.pow(2).mean((0, 2)).sqrt()
        spread[sl] = torch.where(rms > 1e-6, rms, torch.ones_like(rms)).repeat_interleave(ir.dim)
    return shift, spread


def centre(positions: Tensor, mask: Tensor) -> Tensor:
    """Subtract each sample's mean over its real nodes; padded rows become zero (whatever they held)."""
    m = mask[..., None]
    positions = torch.where(m, positions, 0.0)
    mean = positions.sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1).to(positions.dtype)
    return torch.where(m, positions - mean, 0.0)


class LatentDiffusion(nn.Module):
    """Epsilon-prediction DDPM on Ophiuchus latents; ``forward`` is the loss (so DDP wraps it)."""

    def __init__(self, config: DiffusionConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or DiffusionConfig()
        self.denoiser = build_denoiser(c.denoiser)
        irreps = self.denoiser.irreps_latent
        self.dim = irreps.dim
        self.register_buffer("position_scale", torch.tensor(float(c.position_scale)))
        self.register_buffer("feature_shift", torch.zeros(self.dim))
        self.register_buffer("feature_scale", torch.ones(self.dim))
        # Largest |value| of the normalised training latents (times a margin): DDPM/DDIM clip their
        # x0 prediction to it, a guard against samples leaving the data's range.
        self.register_buffer("sample_range", torch.tensor(float("inf")))
        if not c.source_irreps:
            self.projection = None
        else:
            source = o3.Irreps(c.source_irreps)
            if [ir for _, ir in source] != [ir for _, ir in irreps] or any(a < b for (a, _), (b, _) in zip(source, irreps)):
                raise ValueError(f"latent_irreps {c.denoiser.latent_irreps!r} must keep at most the channels of each "
                                 f"irrep of source_irreps {c.source_irreps!r}, in its order")
            self.register_buffer("source_shift", torch.zeros(source.dim))
            self.register_buffer("projection", torch.zeros(self.dim, source.dim))
        alphas_cumprod = make_scheduler("ddpm", c.num_train_timesteps).alphas_cumprod.clone()
        self.register_buffer("alphas_cumprod", alphas_cumprod, persistent=False)

    # ---- normalisation -------------------------------------------------------------------
    @torch.no_grad()
    def fit_normalisation(self, positions: Tensor, features: Tensor, mask: Tensor) -> dict[str, float]:
        """Set the feature shift/scale from a sample of training latents; returns statistics for the card.

        Scalar (0e) channels get their mean removed; every irrep channel is scaled to unit RMS
        (one number per channel, shared by its 2l+1 components: normalising commutes with rotations).
        """
        mask = mask.bool()
        f = features[mask].to(self.feature_scale)
        explained = self._fit_projection(f) if self.projection is not None else None
        if explained is not None:
            f = (f - self.source_shift) @ self.projection.T
        shift, spread = channel_spread(f, self.denoiser.irreps_latent)
        self.feature_shift.copy_(shift)
        self.feature_scale.copy_(spread)
        pos = centre(positions.to(self.feature_scale), mask)[mask]
        normed = torch.cat([pos / self.position_scale, (f - shift) / spread], -1)
        self.sample_range.fill_(SAMPLE_RANGE_MARGIN * float(normed.abs().max()))
        return {
            "sample_range": float(self.sample_range),
            "num_nodes": len(f),
            "position_rms_A": float(pos.pow(2).mean().sqrt()),
            "position_scale_A": float(self.position_scale),
            "feature_rms_min": float(spread.min()), "feature_rms_max": float(spread.max()),
            **({"principal_components": explained} if explained is not None else {}),
        }

    def _fit_projection(self, f: Tensor) -> dict[str, float]:
        """Set ``source_shift`` and ``projection`` from source-latent features ``f (M, D_source)``; returns the
        fraction of each irrep type's variance the kept components explain."""
        source, explained = o3.Irreps(self.config.source_irreps), {}
        shift = torch.zeros_like(self.source_shift)
        projection = torch.zeros_like(self.projection)
        row = 0
        for sl, (mul, ir), (keep, _) in zip(source.slices(), source, self.denoiser.irreps_latent):
            x = f[:, sl].reshape(len(f), mul, ir.dim)
            if ir.l == 0:
                shift[sl] = x.mean(0).flatten()
                x = x - x.mean(0)
            cov = torch.einsum("nim,njm->ij", x.double(), x.double()) / len(x)
            values, vectors = torch.linalg.eigh(cov)  # ascending
            top = vectors[:, -keep:].flip(1).to(f.dtype)  # (mul, keep)
            projection[row : row + keep * ir.dim, sl] = torch.kron(top.T, torch.eye(ir.dim, dtype=f.dtype))
            explained[str(ir)] = float(values[-keep:].sum() / values.sum().clamp_min(1e-12))
            row += keep * ir.dim
        self.source_shift.copy_(shift)
        self.projection.copy_(projection)
        return explained

    def normalise(self, positions: Tensor, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Å latents -> diffusion space (centred positions / scale, standardised features, zero padding)."""
        pos = centre(positions, mask) / self.position_scale
        if self.projection is not None:
            features = (features - self.source_shift) @ self.projection.T
        feat = torch.where(mask[..., None], (features - self.feature_shift) / self.feature_scale, 0.0)
        return pos, feat

    def denormalise(self, positions: Tensor, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Diffusion space -> Å latents (padding stays zero)."""
        pos = centre(positions, mask) * self.position_scale
        feat = features * self.feature_scale + self.feature_shift
        if self.projection is not None:
            feat = feat @ self.projection + self.source_shift
        feat = torch.where(mask[..., None], feat, 0.0)
        return pos, feat

    @property
    def self_conditioned(self) -> bool:
        """Whether the denoiser also reads its previous x0 estimate."""
        return self.config.denoiser.self_condition

    def velocity(self, positions: Tensor, features: Tensor, t: Tensor, mask: Tensor,
                 estimate: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """The denoiser's v-prediction (v = sqrt(a) eps - sqrt(1 - a) x0, a = alphas_cumprod[t]) on noisy latents.

        v keeps its error bounded where the cosine schedule's signal vanishes: from epsilon, x0 =
        (x_t - sqrt(1 - a) eps) / sqrt(a) multiplies an epsilon error by up to 1 / sqrt(a) ~ 30 at the
        first sampling step, which made epsilon-trained samplers diverge; from v, x0 = sqrt(a) x_t -
        sqrt(1 - a) v does not. For unit-variance data the best linear guess of v is 0."""
        if self.self_conditioned:
            return self.denoiser(positions, features, t, mask, estimate)
        return self.denoiser(positions, features, t, mask)

    def x0_estimate(self, positions: Tensor, features: Tensor, v: tuple[Tensor, Tensor], t: Tensor) -> tuple[Tensor, Tensor]:
        """x0 = sqrt(a) x_t - sqrt(1 - a) v for positions and features at timesteps ``t`` (B,) or a scalar."""
        ab = self.alphas_cumprod[t].to(positions.dtype).reshape(-1, 1, 1)
        return ab.sqrt() * positions - (1 - ab).sqrt() * v[0], ab.sqrt() * features - (1 - ab).sqrt() * v[1]

    # ---- training ------------------------------------------------------------------------
    def loss(
        self, positions: Tensor, features: Tensor, mask: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """v-prediction MSE at a random timestep per sample, averaged over real nodes: {"loss", "loss_pos", "loss_feat"}."""
        mask = mask.bool()
        x_pos, x_feat = self.normalise(positions, features, mask)
        B, N, _ = x_pos.shape
        t_device = generator.device if generator is not None else x_pos.device
        t = torch.randint(0, self.config.num_train_timesteps, (B,), generator=generator, device=t_device)
        t = t.to(x_pos.device)
        noise_pos = centre(_randn((B, N, 3), generator, x_pos), mask)
        noise_feat = _randn((B, N, self.dim), generator, x_feat) * mask[..., None]
        ab = self.alphas_cumprod[t].to(x_pos.dtype).view(B, 1, 1)
        signal, noise = ab.sqrt(), (1 - ab).sqrt()
        noisy_pos, noisy_feat = signal * x_pos + noise * noise_pos, signal * x_feat + noise * noise_feat
        estimate = None
        if self.self_conditioned and float(torch.rand((), generator=generator, device=t_device)) < 0.5:
            with torch.no_grad():  # half the batches learn to refine their own first estimate (self-conditioning)
                first = self.velocity(noisy_pos, noisy_feat, t, mask)
                estimate = self.x0_estimate(noisy_pos, noisy_feat, first, t)
        pred_pos, pred_feat = self.velocity(noisy_pos, noisy_feat, t, mask, estimate)
        target_pos, target_feat = signal * noise_pos - noise * x_pos, signal * noise_feat - noise * x_feat
        m = mask[..., None].to(x_pos.dtype)
        count = m.sum().clamp_min(1)
        loss_pos = ((pred_pos - target_pos) ** 2 * m).sum() / (3 * count)
        loss_feat = ((pred_feat - target_feat) ** 2 * m).sum() / (max(self.dim, 1) * count)
        loss = self.config.position_loss_weight * loss_pos + loss_feat
        return {"loss": loss, "loss_pos": loss_pos.detach(), "loss_feat": loss_feat.detach()}

    def forward(
        self, positions: Tensor, features: Tensor, mask: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Same as :meth:`loss` (training through ``forward`` keeps DistributedDataParallel in the loop)."""
        return self.loss(positions, features, mask, generator)

    # ---- sampling ------------------------------------------------------------------------
    def guided_velocity(self, v: tuple[Tensor, Tensor], positions: Tensor, features: Tensor, t: Tensor, mask: Tensor,
                        guidance: Guidance) -> tuple[Tensor, Tensor]:
        """v after adding ``guidance``'s gradient g of log p(y | x_t) to the score: the x0 estimate moves by
        (1 - a) / sqrt(a) g (Tweedie), so v = (sqrt(a) x_t - x0) / sqrt(1 - a) moves by -sqrt((1 - a) / a) g,
        the factor capped at :data:`GUIDANCE_FACTOR_MAX`. A sample whose gradient is not finite is left unguided."""
        ab = float(self.alphas_cumprod[t])
        factor = min(((1 - ab) / max(ab, 1e-12)) ** 0.5, GUIDANCE_FACTOR_MAX)
        B = positions.shape[0]
        grad_pos, grad_feat = guidance(positions, features, t.reshape(-1).expand(B), mask)
        # A sample whose gradient is not finite (rare: a classifier backward through a degenerate frame) goes unguided
        # for this step rather than turning NaN.
        finite = (torch.isfinite(grad_pos).flatten(1).all(1) & torch.isfinite(grad_feat).flatten(1).all(1))[:, None, None]
        grad_pos, grad_feat = torch.where(finite, grad_pos, 0.0), torch.where(finite, grad_feat, 0.0)
        return v[0] - factor * grad_pos, v[1] - factor * grad_feat

    @torch.no_grad()
    def sample(
        self,
        num_nodes: Sequence[int] | Tensor,
        scheduler_name: str = "ddpm",
        steps: int | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        eta: float = 0.0,
        noise_scale: float = 1.0,
        guidance: Guidance | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Latents with the given numbers of nodes: ``(positions (B, N, 3), features (B, N, D), mask (B, N))``.

        Positions are in Å and centred; padded rows are zero. All samples denoise together (padded
        to the longest); the loop runs over denoising steps only. ``steps=None`` takes the
        scheduler's default. The same ``generator`` state gives the same latents on the same device.
        DDIM only: ``eta`` sets its stochasticity (0: deterministic; 1: DDPM's posterior variance) and
        ``noise_scale`` multiplies the noise each stochastic step adds (below 1: low-temperature sampling).
        ``guidance(positions, features, t, mask)``: the gradient of a log-likelihood to add to the model's score
        (e.g. :class:`~gen3d.models.ophiuchus.structure_guide.StructureGuidance`); see :meth:`guided_velocity`.
        """
        device = torch.device(device) if device is not None else self.position_scale.device
        dtype = self.feature_scale.dtype
        n = torch.as_tensor(num_nodes, dtype=torch.long).reshape(-1).to(device)
        if len(n) == 0 or int(n.min()) < 1:
            raise ValueError(f"num_nodes must be a non-empty list of positive lengths, got {n.tolist()}")
        B, N = len(n), int(n.max())
        mask = torch.arange(N, device=device)[None] < n[:, None]
        like = torch.empty(0, device=device, dtype=dtype)
        clip = float(self.sample_range) if torch.isfinite(self.sample_range) else None
        scheduler = make_scheduler(scheduler_name, self.config.num_train_timesteps, clip_range=clip)
        scheduler.set_timesteps(steps or default_steps(scheduler_name, self.config.num_train_timesteps), device=device)
        m = mask[..., None].to(dtype)
        stochastic = check_stochasticity(scheduler_name, eta, noise_scale)

        def project(x: Tensor) -> Tensor:
            """Back onto the model's space: zero-mean positions, zero padding (also applied to scheduler noise)."""
            x = x.view(B, N, 3 + self.dim)
            return torch.cat([centre(x[..., :3], mask), x[..., 3:] * m], -1).view(B, -1)

        x = project(_randn((B, N * (3 + self.dim)), generator, like) * scheduler.init_noise_sigma)
        estimate = None
        for t in scheduler.timesteps:
            x_in = scheduler.scale_model_input(x, t).view(B, N, 3 + self.dim)
            eps_pos, eps_feat = self.velocity(x_in[..., :3], x_in[..., 3:], t.expand(B), mask, estimate)
            if guidance is not None:
                eps_pos, eps_feat = self.guided_velocity((eps_pos, eps_feat), x_in[..., :3], x_in[..., 3:], t, mask, guidance)
            if self.self_conditioned:
                estimate = self.x0_estimate(x_in[..., :3], x_in[..., 3:], (eps_pos, eps_feat), t.expand(B))
            eps = torch.cat([eps_pos, eps_feat], -1).view(B, -1)
            extra: dict = {"generator": generator}
            if scheduler_name == "ddim":  # DDIM takes its noise as an argument (so that it can be scaled), not a generator
                extra = {"eta": eta}
                if stochastic:
                    extra["variance_noise"] = _randn((B, N * (3 + self.dim)), generator, like) * noise_scale
            x = project(scheduler.step(eps, t, x, **extra).prev_sample.to(dtype))
        x = x.view(B, N, 3 + self.dim)
        positions, features = self.denormalise(x[..., :3], x[..., 3:], mask)
        return positions, features, mask
