"""Latent DDPM for Ophiuchus: schedulers, denoiser symmetries, normalisation, loss and sampling.

Symmetry tests run in float64 with random weights; tolerance 1e-6 relative to the largest output
(outputs reach ~10; e3nn's Wigner D-matrices and some Clebsch-Gordan constants are only float32
accurate, so errors sit near 2e-7 of the output scale, ~1e-6 absolute).
"""

import copy
import json
import math

import pytest
import torch
from e3nn import o3
from safetensors.torch import load, save

from gen3d.models.ophiuchus.denoiser import DenoiserConfig, LatentDenoiser
from gen3d.models.ophiuchus.diffusion import DiffusionConfig, LatentDiffusion, build_denoiser
from gen3d.models.ophiuchus.schedulers import SCHEDULERS, default_steps, make_scheduler, scheduler_config

TOL = 1e-6


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal up to TOL relative to the largest entry of ``expected`` (at least 1)."""
    actual, expected = actual.detach(), expected.detach()
    error, scale = float((actual - expected).abs().max()), max(1.0, float(expected.abs().max()))
    assert error <= TOL * scale, (error, scale)


TINY = DenoiserConfig(
    latent_irreps="4x0e + 2x1o + 1x2e", irreps_hidden="8x0e + 4x1o + 2x2e", num_layers=2,
    time_dim=8, radial_hidden=16, num_basis=6, seq_dim=4, max_seq_sep=3,
)


def latents(lengths: tuple[int, ...] = (7, 5), dtype: torch.dtype = torch.float64):
    """Random padded latents (positions in Å) with TINY's irreps; padded rows hold garbage that must never matter."""
    dim = o3.Irreps(TINY.latent_irreps).dim
    N = max(lengths)
    mask = torch.arange(N)[None] < torch.tensor(lengths)[:, None]
    positions = torch.randn(len(lengths), N, 3, dtype=dtype) * 1.5 + 3.0
    features = torch.randn(len(lengths), N, dim, dtype=dtype)
    positions[~mask] = 1e3
    return positions, features, mask


def denoiser(**changes) -> torch.nn.Module:
    config = DenoiserConfig(**{**TINY.to_dict(), **changes})
    return build_denoiser(config).double()


FRAMES = {"architecture": "frames", "window": 3, "width": 16, "heads": 4, "pair_dim": 8}


T = torch.tensor([17, 640])


@pytest.fixture(scope="module")
def models() -> dict:
    """Random-weight float64 denoisers with and without the chirality scalar, and one that RMS-normalises every
    layer, and a frame denoiser (built once: e3nn codegen is slow)."""
    torch.manual_seed(1)
    return {True: denoiser(chiral=True), False: denoiser(chiral=False), "norm": denoiser(chiral=True, norm=True),
            "frames": denoiser(**FRAMES)}


@pytest.fixture(scope="module")
def diffusion() -> LatentDiffusion:
    """A random-weight float32 latent diffusion model; tests must not modify it."""
    torch.manual_seed(2)
    return LatentDiffusion(DiffusionConfig(TINY))


# ---- schedulers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_configured_for_latents(name):
    scheduler = make_scheduler(name)
    config = scheduler.config
    assert config.get("clip_sample", False) is False and config.thresholding is False
    assert config.prediction_type == "v_prediction" and config.beta_schedule == "squaredcos_cap_v2"
    card = json.loads(json.dumps(scheduler_config(name)))
    assert card["class"] == type(scheduler).__name__ and card.get("clip_sample", False) is False
    scheduler.set_timesteps(default_steps(name))
    assert int(scheduler.timesteps.max()) < 999  # the ill-conditioned first cosine step is skipped


def test_unknown_scheduler_names_the_allowed_ones():
    with pytest.raises(ValueError, match="ddpm, ddim, dpm"):
        make_scheduler("euler")
    with pytest.raises(ValueError, match="ddpm, ddim, dpm"):
        scheduler_config("pndm")


# ---- denoiser symmetries ------------------------------------------------------------------------

@pytest.mark.parametrize("chiral", [True, False, "norm", "frames"])
def test_denoiser_rotation_equivariance(models, chiral):
    model = models[chiral]
    pos, feat, mask = latents()
    R = o3.rand_matrix(dtype=torch.float64)
    D = model.irreps_latent.D_from_matrix(R)
    eps_pos, eps_feat = model(pos, feat, T, mask)
    rot_pos, rot_feat = model(pos @ R.T, feat @ D.T, T, mask)
    assert eps_pos.abs().max() > 0.1 and eps_feat.abs().max() > 0.1
    assert_close(rot_pos, eps_pos @ R.T)
    assert_close(rot_feat, eps_feat @ D.T)


@pytest.mark.parametrize("kind", [True, "frames"])
def test_denoiser_translation_invariance(models, kind):
    model = models[kind]
    pos, feat, mask = latents()
    shift = torch.randn(2, 1, 3, dtype=torch.float64) * 20  # a different shift per sample
    for a, b in zip(model(pos + shift, feat, T, mask), model(pos, feat, T, mask)):
        assert_close(a, b)


def test_reflection_breaks_only_when_chiral(models):
    """Without the pseudo-torsion scalar the network is O(3)-equivariant; with it, mirror images differ."""
    pos, feat, mask = latents()
    for chiral, equivariant in [(False, True), (True, False), ("frames", False)]:  # frames are right-handed
        model = models[chiral]
        P = model.irreps_latent.D_from_matrix(-torch.eye(3, dtype=torch.float64))
        eps_pos, eps_feat = model(pos, feat, T, mask)
        ref_pos, ref_feat = model(-pos, feat @ P.T, T, mask)
        error = max((ref_pos + eps_pos).abs().max(), (ref_feat - eps_feat @ P.T).abs().max())
        assert (error < TOL * 10) == equivariant, (chiral, float(error))  # inversion's D is exact: ~1e-15


@pytest.mark.parametrize("kind", [True, "norm", "frames"])
def test_denoiser_padding_invariance_and_zero_padding(models, kind):
    model = models[kind]
    pos, feat, mask = latents()
    eps_pos, eps_feat = model(pos, feat, T, mask)
    alone_pos, alone_feat = model(pos[1:, :5], feat[1:, :5], T[1:], mask[1:, :5])
    assert_close(eps_pos[1, :5], alone_pos[0])
    assert_close(eps_feat[1, :5], alone_feat[0])
    assert (eps_pos[1, 5:] == 0).all() and (eps_feat[1, 5:] == 0).all()
    feat2 = feat.clone()
    feat2[1, 5:] = 1e4  # garbage in padding changes nothing
    assert_close(model(pos, feat2, T, mask)[1], eps_feat)


@pytest.mark.parametrize("kind", [True, "frames"])
def test_position_noise_has_zero_mean_over_real_nodes(models, kind):
    pos, feat, mask = latents()
    eps_pos, _ = models[kind](pos, feat, T, mask)
    assert eps_pos.sum(1).abs().max() < TOL


@pytest.mark.parametrize("kind", [False, "frames"])
def test_sequence_order_matters(models, kind):
    """Not permutation-equivariant by design: reversing the chain does not just reverse the outputs."""
    model = models[kind]  # order must matter even without the (order-dependent) chirality scalar
    pos, feat, mask = latents((6, 6))
    eps_pos, eps_feat = model(pos, feat, T, mask)
    rev_pos, rev_feat = model(pos.flip(1), feat.flip(1), T, mask)
    assert (rev_feat.flip(1) - eps_feat).abs().max() > 1e-3
    assert (rev_pos.flip(1) - eps_pos).abs().max() > 1e-3


def test_frame_denoiser_config_round_trips_and_graph_cards_keep_their_old_keys():
    frames = DiffusionConfig(DenoiserConfig(**{**TINY.to_dict(), **FRAMES}))
    assert DiffusionConfig.from_dict(json.loads(json.dumps(frames.to_dict()))) == frames
    assert "architecture" not in TINY.to_dict() and "width" not in TINY.to_dict()
    with pytest.raises(ValueError, match="architecture"):
        DenoiserConfig(architecture="mlp")


def test_self_conditioned_frame_denoiser_is_equivariant_in_its_estimate_and_reads_it():
    torch.manual_seed(3)
    model = denoiser(**FRAMES, self_condition=True)
    pos, feat, mask = latents()
    estimate = (torch.randn_like(pos), torch.randn_like(feat))
    R = o3.rand_matrix(dtype=torch.float64)
    D = model.irreps_latent.D_from_matrix(R)
    eps_pos, eps_feat = model(pos, feat, T, mask, estimate)
    rot_pos, rot_feat = model(pos @ R.T, feat @ D.T, T, mask, (estimate[0] @ R.T + 5.0, estimate[1] @ D.T))
    assert_close(rot_pos, eps_pos @ R.T)
    assert_close(rot_feat, eps_feat @ D.T)
    assert (model(pos, feat, T, mask)[0] - eps_pos).abs().max() > 1e-3  # no estimate: a different answer
    with pytest.raises(ValueError, match="self_condition"):
        DenoiserConfig(self_condition=True)  # the graph denoiser has no estimate input


def test_self_conditioned_diffusion_trains_and_samples_reproducibly():
    torch.manual_seed(4)
    config = DiffusionConfig(DenoiserConfig(**{**TINY.to_dict(), **FRAMES, "self_condition": True}), num_train_timesteps=50)
    model = LatentDiffusion(config)
    pos, feat, mask = latents(dtype=torch.float32)
    model.fit_normalisation(pos, feat, mask)
    losses = {float(model.loss(pos, feat, mask, torch.Generator().manual_seed(k))["loss"]) for k in range(4)}
    assert all(math.isfinite(v) for v in losses)
    a = model.sample([5, 4], "ddim", 5, generator=torch.Generator().manual_seed(0))
    b = model.sample([5, 4], "ddim", 5, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and torch.isfinite(a[0]).all()


def test_frame_denoiser_refuses_chains_too_short_for_a_frame(models):
    pos, feat, mask = latents((4, 2))
    with pytest.raises(ValueError, match="at least 3 nodes"):
        models["frames"](pos, feat, T, mask)


def test_configs_round_trip_and_reject_unknown_keys():
    config = DiffusionConfig(TINY, position_scale=8.0)
    assert DiffusionConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="bogus"):
        DenoiserConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="1o"):
        LatentDenoiser(DenoiserConfig(irreps_hidden="8x0e + 2x2e"))


# ---- normalisation, loss ------------------------------------------------------------------------

def test_normalisation_unit_rms_round_trip_and_state_dict(diffusion):
    model = LatentDiffusion(DiffusionConfig(TINY, position_scale=5.0))
    pos, feat, mask = latents((7, 5, 6), torch.float32)
    feat = feat * torch.linspace(0.1, 4.0, feat.shape[-1]) + 2.0
    stats = model.fit_normalisation(pos, feat, mask)
    assert stats["num_nodes"] == 18
    npos, nfeat = model.normalise(pos, feat, mask)
    real = nfeat[mask]
    irreps = model.denoiser.irreps_latent
    start = 0
    for mul, ir in irreps:
        block = real[:, start : start + mul * ir.dim].reshape(len(real), mul, ir.dim)
        rms = block.pow(2).mean(dim=(0, 2)).sqrt()
        assert torch.allclose(rms, torch.ones_like(rms), atol=1e-4), (ir, rms)
        if ir == o3.Irrep("0e"):
            assert block.mean(dim=(0, 2)).abs().max() < 1e-5
        start += mul * ir.dim
    assert npos[mask].sum(0).abs().max() < 1e-5 and (nfeat[~mask] == 0).all()
    back_pos, back_feat = model.denormalise(npos, nfeat, mask)
    centred = pos - (pos * mask[..., None]).sum(1, keepdim=True) / mask.sum(1)[:, None, None]
    assert torch.allclose(back_pos[mask], centred[mask], atol=1e-4)
    assert torch.allclose(back_feat[mask], feat[mask], atol=1e-5)

    state = model.state_dict()
    assert {"position_scale", "feature_shift", "feature_scale"} <= set(state)
    assert not {"alphas_cumprod", "channel"} & set(state)
    fresh = copy.deepcopy(diffusion)  # other weights, position_scale 10
    fresh.load_state_dict(load(save(state)))
    assert float(fresh.position_scale) == 5.0
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(fresh(pos, feat, mask, g1)["loss"], model.loss(pos, feat, mask, g2)["loss"])


def test_loss_ignores_padding_content(diffusion):
    pos, feat, mask = latents(dtype=torch.float32)
    clean_pos, clean_feat = pos * mask[..., None], feat * mask[..., None]
    g = [torch.Generator().manual_seed(5) for _ in range(2)]
    losses = [diffusion.loss(pos, feat, mask, g[0]), diffusion.loss(clean_pos, clean_feat, mask, g[1])]
    assert set(losses[0]) == {"loss", "loss_pos", "loss_feat"}
    assert all(torch.allclose(losses[0][k], losses[1][k]) for k in losses[0])


def test_loss_decreases_when_overfitting_a_tiny_set():
    torch.manual_seed(0)
    model = LatentDiffusion(DiffusionConfig(DenoiserConfig(**{**TINY.to_dict(), "num_layers": 1}), position_scale=3.0))
    pos, feat, mask = latents((6, 4, 5, 6), torch.float32)
    model.fit_normalisation(pos, feat, mask)

    def fixed_draws() -> float:
        """Mean loss over the same four (timestep, noise) draws every time."""
        g = torch.Generator().manual_seed(123)
        with torch.no_grad():
            return sum(float(model.loss(pos, feat, mask, g)["loss"]) for _ in range(4)) / 4

    before = fixed_draws()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        losses = model.loss(pos, feat, mask, g)
        optimiser.zero_grad()
        losses["loss"].backward()
        optimiser.step()
    assert set(losses) == {"loss", "loss_pos", "loss_feat"}
    after = fixed_draws()
    # Predicting v = 0 scores ~1.8 here (E[v^2] = a E[eps^2] + (1 - a) E[x0^2], both about 1 per dimension).
    assert after < 0.5 * before and after < 1.4, (before, after)


# ---- sampling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCHEDULERS)
def test_sampling_shapes_finite_and_reproducible(diffusion, name):
    model = diffusion
    D = model.dim

    def run(seed: int):
        return model.sample([5, 3], scheduler_name=name, steps=8, generator=torch.Generator().manual_seed(seed))

    pos, feat, mask = run(0)
    assert pos.shape == (2, 5, 3) and feat.shape == (2, 5, D) and mask.shape == (2, 5)
    assert mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert torch.isfinite(pos).all() and torch.isfinite(feat).all()
    assert (pos[1, 3:] == 0).all() and (feat[1, 3:] == 0).all()
    assert (pos.sum(1).abs() < 1e-3 * pos.abs().max()).all()  # centred
    again = run(0)
    assert all(torch.equal(a, b) for a, b in zip((pos, feat, mask), again))
    assert not torch.equal(run(1)[0], pos)


def test_ancestral_ddim_is_ddpm_and_its_noise_scale_is_a_temperature(diffusion):
    """DDIM with eta 1 takes DDPM's posterior step (same draws, same latents up to float error); the noise scale
    changes the draw reproducibly; settings a scheduler would ignore are refused."""

    def run(name: str, seed: int = 0, **kw):
        return diffusion.sample([6, 4], scheduler_name=name, steps=10, generator=torch.Generator().manual_seed(seed), **kw)

    ddpm, ddim = run("ddpm"), run("ddim", eta=1.0)
    assert all(torch.allclose(a.float(), b.float(), atol=1e-4, rtol=1e-4) for a, b in zip(ddpm, ddim))
    cold = run("ddim", eta=1.0, noise_scale=0.5)
    assert not torch.allclose(cold[0], ddim[0], atol=1e-3)
    assert all(torch.equal(a, b) for a, b in zip(cold, run("ddim", eta=1.0, noise_scale=0.5)))
    # with no noise added after the start, the draw depends on the starting noise only
    a, b = run("ddim", eta=1.0, noise_scale=0.0), run("ddim", eta=0.0)
    assert not torch.allclose(a[0], b[0], atol=1e-3)  # eta 1 at zero noise is not the DDIM ODE: different mean path
    for bad in ({"eta": 1.0}, {"noise_scale": 0.5}):
        with pytest.raises(ValueError, match="apply to the ddim scheduler"):
            run("ddpm", **bad)
    with pytest.raises(ValueError, match="eta"):
        run("ddim", eta=1.5)


def test_sampling_recovers_a_single_training_structure():
    """Fit on latents all equal to one structure; samples match it up to rotation (distances, invariants)."""
    torch.manual_seed(0)
    config = DenoiserConfig(
        latent_irreps="2x0e + 1x1o", irreps_hidden="16x0e + 4x1o", num_layers=1,
        time_dim=16, radial_hidden=32, num_basis=8,
    )
    model = LatentDiffusion(DiffusionConfig(config))
    N, B, steps = 5, 16, 100
    pos0, feat0 = torch.randn(N, 3) * 8, torch.randn(N, model.dim)
    pos, feat, mask = pos0.expand(B, N, 3), feat0.expand(B, N, model.dim), torch.ones(B, N, dtype=torch.bool)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-2)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        loss = model.loss(pos, feat, mask, g)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    d0 = torch.cdist(pos0, pos0)
    for name, n_steps in [("ddpm", 50), ("ddim", 20)]:
        p, f, _ = model.sample([N] * 8, name, steps=n_steps, generator=torch.Generator().manual_seed(1))
        distance_error = (torch.cdist(p, p) - d0).abs().mean() / d0.mean()  # random 5-point clouds: ~0.4
        scalar_error = (f[..., :2] - feat0[:, :2]).abs().mean()  # independent N(0, 1) draws: ~1.1
        assert distance_error < 0.25 and scalar_error < 0.4, (name, float(distance_error), float(scalar_error))


def test_x0_clip_range_comes_from_the_training_latents():
    """DDPM/DDIM clip x0 to the largest normalised training value (times a margin); DPM is never clipped."""
    from gen3d.models.ophiuchus.diffusion import SAMPLE_RANGE_MARGIN, DiffusionConfig, LatentDiffusion
    from gen3d.models.ophiuchus.denoiser import DenoiserConfig

    model = LatentDiffusion(DiffusionConfig(denoiser=DenoiserConfig(latent_irreps="2x0e + 1x1o", irreps_hidden="4x0e + 2x1o", num_layers=1)))
    g = torch.Generator().manual_seed(0)
    pos, feat = torch.randn(3, 5, 3, generator=g) * 10, torch.randn(3, 5, 5, generator=g)
    mask = torch.ones(3, 5, dtype=torch.bool)
    stats = model.fit_normalisation(pos, feat, mask)
    p, f = model.normalise(pos, feat, mask)
    assert stats["sample_range"] == pytest.approx(SAMPLE_RANGE_MARGIN * float(torch.cat([p, f], -1).abs().max()), rel=1e-5)
    for name in ("ddpm", "ddim"):
        config = make_scheduler(name, clip_range=4.0).config
        assert config.clip_sample is True and config.clip_sample_range == 4.0
    assert not getattr(make_scheduler("dpm", clip_range=4.0).config, "clip_sample", False)


# ---- principal components of the source latent -------------------------------------------------

SOURCE = "6x0e + 4x1o + 2x2e"


def low_rank_features(n: int) -> torch.Tensor:
    """Features of SOURCE irreps that live in 3 scalar, 2 vector and 1 l=2 equivariant directions (scalars offset)."""
    g = torch.Generator().manual_seed(3)
    mix = [torch.randn(6, 3, generator=g), torch.randn(4, 2, generator=g), torch.randn(2, 1, generator=g)]
    blocks = [torch.randn(n, 3, 1, generator=g), torch.randn(n, 2, 3, generator=g), torch.randn(n, 1, 5, generator=g)]
    parts = [torch.einsum("ij,njm->nim", a, z).reshape(n, -1) for a, z in zip(mix, blocks)]
    parts[0] = parts[0] + 2.0
    return torch.cat(parts, -1).double()


def test_principal_components_round_trip_on_their_subspace_and_commute_with_rotations():
    torch.manual_seed(4)
    reduced = DenoiserConfig(**{**TINY.to_dict(), "latent_irreps": "3x0e + 2x1o + 1x2e"})
    model = LatentDiffusion(DiffusionConfig(reduced, source_irreps=SOURCE)).double()
    features = low_rank_features(35).reshape(5, 7, -1)
    positions, mask = torch.randn(5, 7, 3, dtype=torch.float64), torch.ones(5, 7, dtype=torch.bool)
    stats = model.fit_normalisation(positions, features, mask)
    assert all(v > 1 - 1e-9 for v in stats["principal_components"].values())
    pos, feat = model.normalise(positions, features, mask)
    assert feat.shape[-1] == o3.Irreps(reduced.latent_irreps).dim
    assert_close(model.denormalise(pos, feat, mask)[1], features)
    R = o3.rand_matrix(dtype=torch.float64)
    _, rotated = model.normalise(positions @ R.T, features @ o3.Irreps(SOURCE).D_from_matrix(R).T, mask)
    assert_close(rotated, feat @ model.denoiser.irreps_latent.D_from_matrix(R).T)
    state = model.state_dict()
    assert {"projection", "source_shift"} <= set(state)
    again = LatentDiffusion(DiffusionConfig.from_dict(json.loads(json.dumps(model.config.to_dict())))).double()
    again.load_state_dict(state)
    assert_close(again.normalise(positions, features, mask)[1], feat)


def test_principal_components_must_be_a_subset_of_the_source_channels():
    too_many = DenoiserConfig(**{**TINY.to_dict(), "latent_irreps": "8x0e + 2x1o + 1x2e"})
    with pytest.raises(ValueError, match="source_irreps"):
        LatentDiffusion(DiffusionConfig(too_many, source_irreps=SOURCE))
    assert "source_irreps" not in DiffusionConfig(TINY).to_dict()  # cards of models without it stay as they were
