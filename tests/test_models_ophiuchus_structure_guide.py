"""Secondary-structure guidance: the classifier is invariant, its gradient equivariant, guidance moves v as
stated and only when asked, and checkpoints pair with the DDPM whose normalisation they were trained in.

Symmetry tests run in float64 with random weights; tolerance 1e-6 relative to the largest output (e3nn's
Wigner D-matrices are float32-accurate)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from e3nn import o3

from gen3d.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from gen3d.models.ophiuchus.denoiser import DenoiserConfig
from gen3d.models.ophiuchus.diffusion import GUIDANCE_FACTOR_MAX, DiffusionConfig, LatentDiffusion
from gen3d.models.ophiuchus.structure_guide import ClassifierConfig, StructureClassifier, StructureGuidance

IRREPS = "4x0e + 2x1o + 1x2e"
NET = DenoiserConfig(latent_irreps=IRREPS, architecture="frames", window=3, width=16, heads=4, pair_dim=8, num_layers=2)
TOL = 1e-6


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    actual, expected = actual.detach(), expected.detach()
    error, scale = float((actual - expected).abs().max()), max(1.0, float(expected.abs().max()))
    assert error <= TOL * scale, (error, scale)


def latents(lengths=(9, 6)):
    torch.manual_seed(1)
    N = max(lengths)
    mask = torch.arange(N)[None] < torch.tensor(lengths)[:, None]
    pos = torch.randn(len(lengths), N, 3, dtype=torch.float64) * 1.5
    feat = torch.randn(len(lengths), N, o3.Irreps(IRREPS).dim, dtype=torch.float64)
    return pos, feat, mask


@pytest.fixture(scope="module")
def classifier() -> StructureClassifier:
    torch.manual_seed(0)
    return StructureClassifier(ClassifierConfig(network=NET)).double().eval()


def test_logits_are_invariant_to_rotations_and_translations(classifier):
    pos, feat, mask = latents()
    t = torch.tensor([10, 700])
    R = o3.rand_matrix(dtype=torch.float64)
    D = o3.Irreps(IRREPS).D_from_matrix(R)
    base = classifier(pos, feat, t, mask)
    moved = classifier(pos @ R.T + torch.tensor([3.0, -2.0, 5.0], dtype=torch.float64), feat @ D.T, t, mask)
    assert_close(moved[mask], base[mask])


def test_guidance_gradient_rotates_with_the_chain_and_is_centred(classifier):
    pos, feat, mask = latents()
    t = torch.tensor([300, 300])
    guide = StructureGuidance(classifier, 2.0)
    R = o3.rand_matrix(dtype=torch.float64)
    D = o3.Irreps(IRREPS).D_from_matrix(R)
    g_pos, g_feat = guide(pos, feat, t, mask)
    r_pos, r_feat = guide(pos @ R.T, feat @ D.T, t, mask)
    assert_close(r_pos, g_pos @ R.T)
    assert_close(r_feat, g_feat @ D.T)
    assert float(g_pos.abs().max()) > 0
    for b in range(len(mask)):  # zero mean over real nodes, zero padding
        assert float(g_pos[b, mask[b]].sum(0).abs().max()) < 1e-9
        assert float(g_pos[b, ~mask[b]].abs().sum()) == 0 and float(g_feat[b, ~mask[b]].abs().sum()) == 0


def test_guidance_scale_multiplies_the_gradient_and_rejects_negative_scales(classifier):
    pos, feat, mask = latents()
    t = torch.tensor([50, 50])
    one, three = StructureGuidance(classifier, 1.0)(pos, feat, t, mask), StructureGuidance(classifier, 3.0)(pos, feat, t, mask)
    assert_close(three[0], 3 * one[0])
    with pytest.raises(ValueError):
        StructureGuidance(classifier, -1.0)


def test_guided_velocity_follows_tweedie_with_a_capped_factor():
    model = LatentDiffusion(DiffusionConfig(denoiser=DenoiserConfig(latent_irreps=IRREPS, architecture="frames", window=3,
                                                                    width=16, heads=4, pair_dim=8, num_layers=1)))
    pos, feat, mask = (x.float() if x.is_floating_point() else x for x in latents())
    v = (torch.zeros_like(pos), torch.zeros_like(feat))
    constant = lambda p, f, t, m: (torch.ones_like(p), torch.ones_like(f))  # noqa: E731
    for step in (100, 500, 999):
        ab = float(model.alphas_cumprod[step])
        factor = min(np.sqrt((1 - ab) / ab), GUIDANCE_FACTOR_MAX)
        out = model.guided_velocity(v, pos, feat, torch.tensor(step), mask, constant)
        assert torch.allclose(out[0], torch.full_like(pos, -factor), rtol=1e-5)
        assert torch.allclose(out[1], torch.full_like(feat, -factor), rtol=1e-5)
    assert float(model.alphas_cumprod[999]) < 1e-4  # the cap is reached at the start of sampling

    def nan_for_the_first(p, f, t, m):
        gp, gf = torch.ones_like(p), torch.ones_like(f)
        gp[0, 0, 0] = float("nan")
        return gp, gf

    out = model.guided_velocity(v, pos, feat, torch.tensor(500), mask, nan_for_the_first)
    assert torch.equal(out[0][0], v[0][0]) and torch.equal(out[1][0], v[1][0])  # that sample goes unguided this step
    assert bool((out[0][1] != 0).all())


def test_loss_trains_on_soft_labels_and_reports_accuracy(classifier):
    pos, feat, mask = latents()
    labels = torch.zeros(*mask.shape, 3, dtype=torch.float64)
    labels[..., 1] = 1.0
    out = classifier.loss(pos, feat, labels, mask, generator=torch.Generator().manual_seed(0))
    assert out["loss"].requires_grad and 0.0 <= float(out["accuracy"]) <= 1.0
    fixed = classifier.loss(pos, feat, labels, mask, generator=torch.Generator().manual_seed(0), t=torch.tensor([0, 0]))
    again = classifier.loss(pos, feat, labels, mask, generator=torch.Generator().manual_seed(0), t=torch.tensor([0, 0]))
    assert float(fixed["loss"]) == float(again["loss"])


def test_classifier_copies_the_ddpm_normalisation_and_refuses_another():
    source = "8x0e + 4x1o + 2x2e"
    cfg = DiffusionConfig(denoiser=DenoiserConfig(latent_irreps=IRREPS, architecture="frames", window=3, width=16, heads=4,
                                                  pair_dim=8, num_layers=1), source_irreps=source)
    ddpm = LatentDiffusion(cfg)
    with torch.no_grad():
        ddpm.feature_scale.uniform_(0.5, 2.0)
        ddpm.projection.normal_()
    clf = StructureClassifier(ClassifierConfig(network=NET, source_irreps=source))
    assert not clf.matches(ddpm)
    clf.copy_normalisation(ddpm)
    assert clf.matches(ddpm)
    with pytest.raises(ValueError, match="does not fit"):
        StructureClassifier(ClassifierConfig(network=NET)).copy_normalisation(ddpm)  # no principal-component buffers


def test_config_round_trips():
    cfg = ClassifierConfig(network=NET, source_irreps="8x0e + 4x1o + 2x2e")
    assert ClassifierConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        StructureClassifier(ClassifierConfig(network=DenoiserConfig(latent_irreps=IRREPS)))  # graph networks: no


def test_sampler_guidance_is_reproducible_changes_samples_and_pairs_with_its_ddpm(tmp_path):
    from gen3d.samplers.base import ConditionError
    from gen3d.samplers.ophiuchus_ddpm import MiniproteinSampler, sampling_for
    from tests.protein_fixtures import tiny_autoencoder, tiny_classifier, tiny_denoiser

    ae = tiny_autoencoder(tmp_path / "ae")
    ddpm = tiny_denoiser(tmp_path / "ddpm", ae)
    guide = tiny_classifier(tmp_path / "ss", ddpm)
    run = lambda g: list(MiniproteinSampler.from_checkpoint(  # noqa: E731
        str(ddpm), guide=str(guide), lengths=(12, 14), sampling=sampling_for(steps=4, guidance=g), relax=None).sample(2, seed=4))
    a, b, plain = run(50.0), run(50.0), run(0.0)
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b))
    assert any(x.positions.shape != y.positions.shape or not np.allclose(x.positions, y.positions) for x, y in zip(a, plain))
    with pytest.raises(ConditionError, match="needs a secondary-structure classifier"):
        MiniproteinSampler(MiniproteinSampler.from_checkpoint(str(ddpm), sampling=sampling_for(guidance=0.0)).diffusion,
                           None, sampling=sampling_for(guidance=1.0))
    other = tiny_denoiser(tmp_path / "other", ae, seed=1)  # made to normalise latents differently
    state, card = load_checkpoint(other, "ophiuchus-ddpm")
    card.pop("sha256")
    save_checkpoint(other, {**state, "feature_scale": state["feature_scale"] * 2}, card)
    with pytest.raises(CheckpointError, match="another DDPM"):
        MiniproteinSampler.from_checkpoint(str(other), guide=str(guide), sampling=sampling_for(guidance=1.0))
