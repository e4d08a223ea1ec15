"""EquiJump rollouts: seeded, batched, rotation-equivariant jumps; topology matching; non-finite guard."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from e3nn import o3

from gen3d.io.pdb import read_protein
from gen3d.samplers.base import ConditionError, StartFrame
from gen3d.samplers.equijump import DynamicsSampler, JumpSettings, RolloutError, match_topology
from gen3d.samplers.jump_checks import JumpChecks
from gen3d.data.md_frames import load_trajectories
from tests.dynamics_fixtures import TINY_JUMP, ala2_md, tiny_equijump


@pytest.fixture(scope="module")
def md(tmp_path_factory):
    return ala2_md(tmp_path_factory.mktemp("md"), ns=0.01)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, md):
    return tiny_equijump(tmp_path_factory.mktemp("ck"), md)


@pytest.fixture(scope="module")
def start(md):
    return read_protein(md / "system.pdb")


def test_same_seed_same_walkers_and_walkers_differ(ckpt, start):
    sampler = DynamicsSampler.from_checkpoint(str(ckpt), jumps=3, settings=JumpSettings(retries=0))  # raw random-weight jumps
    a = [t.frames for t in sampler.sample(4, seed=7, batch_size=4, condition=StartFrame(start))]
    b = [t.frames for t in sampler.sample(4, seed=7, batch_size=4, condition=StartFrame(start))]
    assert len(a) == 4 and a[0].shape == (4, 10, 3)
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert np.abs(a[0][1:] - a[1][1:]).max() > 1e-3  # the base jitter makes walkers diverge
    np.testing.assert_allclose(a[0][0], a[1][0])  # every walker starts from the same frame


def test_a_deterministic_jump_rotates_with_the_start(ckpt, start):
    sampler = DynamicsSampler.from_checkpoint(str(ckpt), jumps=1)
    sampler.model.double()
    sampler.interpolant = replace(sampler.interpolant, base_noise=0.0)
    x0 = torch.as_tensor(match_topology(start, sampler.card), dtype=torch.float64)
    x0 = (x0 - x0.mean(0))[None]
    R = o3.rand_matrix(dtype=torch.float64)
    out = sampler.jump(x0, torch.Generator().manual_seed(0))
    out_rot = sampler.jump(x0 @ R.T, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out_rot, out @ R.T, atol=1e-9, rtol=0)


def test_sde_uses_noise_and_ode_does_not_at_zero_jitter(ckpt, start):
    sde = DynamicsSampler.from_checkpoint(str(ckpt), jumps=1, settings=JumpSettings("sde", 1.0, 4, retries=0))
    ode = DynamicsSampler.from_checkpoint(str(ckpt), jumps=1, settings=JumpSettings("ode", 1.0, 4, retries=0))
    for s in (sde, ode):
        s.interpolant = replace(s.interpolant, base_noise=0.0)
    x = match_topology(start, sde.card)
    ode_walkers = next(ode.rollout(x, 3, 1))
    sde_walkers = next(sde.rollout(x, 3, 1))
    assert np.abs(ode_walkers - ode_walkers[0]).max() < 1e-5
    assert np.abs(sde_walkers - sde_walkers[0]).max() > 1e-3


def test_start_atoms_are_matched_by_name_not_order(ckpt, start):
    card = DynamicsSampler.from_checkpoint(str(ckpt)).card
    order = np.random.default_rng(0).permutation(len(start))
    shuffled = replace(start, **{k: getattr(start, k)[order] for k in ("chain_ids", "residue_numbers", "insertion_codes",
                                                                         "residue_names", "atom_names", "elements", "positions")})
    # a shuffle that keeps residues contiguous is what files can hold: sort back by residue, keep atom order shuffled
    keep = np.argsort(shuffled.residue_numbers, kind="stable")
    shuffled = replace(shuffled, **{k: getattr(shuffled, k)[keep] for k in ("chain_ids", "residue_numbers", "insertion_codes",
                                                                            "residue_names", "atom_names", "elements", "positions")})
    np.testing.assert_allclose(match_topology(shuffled, card), match_topology(start, card))


def test_topology_errors_name_the_problem(ckpt, start):
    card = DynamicsSampler.from_checkpoint(str(ckpt)).card
    no_cb = ~((start.atom_names == "CB") & (start.residue_names == "ALA"))
    missing = replace(start, **{k: getattr(start, k)[no_cb] for k in ("chain_ids", "residue_numbers", "insertion_codes",
                                                                      "residue_names", "atom_names", "elements", "positions")})
    with pytest.raises(ConditionError, match="missing heavy atoms ALA2:CB"):
        match_topology(missing, card)
    odd = replace(start, residue_names=np.where(start.residue_names == "ALA", "MSE", start.residue_names))
    with pytest.raises(ConditionError, match="residues MSE"):
        match_topology(odd, card)
    gly = replace(start, residue_names=np.where(start.residue_names == "ALA", "NME", start.residue_names))
    with pytest.raises(ConditionError, match="does not match"):
        match_topology(gly, card)


def test_non_finite_rollout_stops_with_a_clear_error(ckpt, start):
    sampler = DynamicsSampler.from_checkpoint(str(ckpt), jumps=2)
    with torch.no_grad():
        sampler.model.head.weight.fill_(float("nan"))
    with pytest.raises(RolloutError, match="non-finite coordinates after jump 1"):
        list(sampler.rollout(match_topology(start, sampler.card), 2, 2))


def test_tiny_config_is_what_the_card_says(ckpt):
    card = DynamicsSampler.from_checkpoint(str(ckpt)).card
    assert card["config"]["irreps_hidden"] == TINY_JUMP.irreps_hidden and card["tau_ps"] == 1.0
    assert card["data"]["residues"] == ["ACE", "ALA", "NME"] and len(card["data"]["topology"]) == 10


def test_checks_reject_mirror_images_and_stretched_bonds(ckpt, start):
    card = DynamicsSampler.from_checkpoint(str(ckpt)).card
    x = torch.as_tensor(match_topology(start, card), dtype=torch.float32)[None]
    checks = JumpChecks.for_start(x[0].numpy(), card["data"]["topology"])
    assert checks.centres.shape == (1, 4) and len(checks.bonds) == 9  # the Ala Cα; the 9 heavy-atom bonds of ACE-ALA-NME
    mirror, stretched = x * torch.tensor([-1.0, 1.0, 1.0]), x * 1.5
    ok = checks.accept(x.expand(3, -1, -1), torch.cat([x + 0.01, mirror, stretched]))
    assert ok.tolist() == [True, False, False]
    assert (checks.stats.proposals, checks.stats.rejected, checks.stats.inverted, checks.stats.broken) == (3, 2, 1, 1)


def test_checks_keep_a_margin_so_a_written_frame_stays_physical(ckpt, start):
    card = DynamicsSampler.from_checkpoint(str(ckpt)).card
    x = torch.as_tensor(match_topology(start, card), dtype=torch.float64)[None]
    checks = JumpChecks.for_start(x[0].numpy(), card["data"]["topology"])
    i, j = (int(k) for k in checks.bonds[0])
    proposals = []
    for length in (1.005, 1.5, 1.995):  # inside the 1-2 Å limits; only 1.5 survives XTC's 0.01 Å rounding for sure
        y = x.clone()
        u = (y[0, j] - y[0, i]) / (y[0, j] - y[0, i]).norm()
        y[0, j] = y[0, i] + length * u
        proposals.append(y)
    ok = checks.accept(x.expand(3, -1, -1), torch.cat(proposals).to(torch.float64))
    assert ok.tolist() == [False, True, False]


def test_rejected_jumps_are_redrawn_then_the_walker_stays(ckpt, start):
    sampler = DynamicsSampler.from_checkpoint(str(ckpt), jumps=2, settings=JumpSettings(retries=3))
    calls = []

    def mirror_first(x, generator):  # the first proposal of every jump is a mirror image, redraws are fine
        calls.append(len(x))
        return x * torch.tensor([-1.0, 1.0, 1.0]) if len(calls) % 2 == 1 else x + 0.01

    sampler.jump = mirror_first
    x0 = match_topology(start, sampler.card)
    frames = list(sampler.rollout(x0, 3, 2))
    assert calls == [3, 3, 3, 3] and sampler.stats.rejected == 6 and sampler.stats.stayed == 0
    np.testing.assert_allclose(frames[1] - frames[0], 0.01, atol=1e-6)

    sampler.jump = lambda x, generator: x * torch.tensor([-1.0, 1.0, 1.0])  # never acceptable
    frames = list(sampler.rollout(x0, 2, 2))
    assert sampler.stats.proposals == 2 * 2 * 4 and sampler.stats.stayed == 4
    np.testing.assert_allclose(frames[-1][0], x0 - x0.mean(0), atol=1e-5)  # the walkers stayed at the start


@pytest.mark.parametrize("backbone", ["frame", "frame+graph"])
def test_frame_backbone_checkpoint_loads_rolls_out_and_keeps_its_reference(tmp_path, md, start, backbone):
    from dataclasses import replace

    folder = tiny_equijump(tmp_path / "frame", md, replace(TINY_JUMP, backbone=backbone, frame_hidden=16, frame_layers=2))
    sampler = DynamicsSampler.from_checkpoint(str(folder), jumps=2, settings=JumpSettings(retries=0))
    reference = sampler.model.state_dict()[[k for k in sampler.model.state_dict() if k.endswith("reference")][0]]
    assert sampler.model.config.atoms == 10 and float(reference.abs().sum()) > 1.0  # stored with the weights
    a = [t.frames for t in sampler.sample(3, seed=1, batch_size=3, condition=StartFrame(start))]
    b = [t.frames for t in sampler.sample(3, seed=1, batch_size=3, condition=StartFrame(start))]
    assert a[0].shape == (3, 10, 3) and np.isfinite(np.stack(a)).all()
    np.testing.assert_array_equal(np.stack(a), np.stack(b))


def test_sampling_settings_come_from_the_caller_then_the_card(ckpt):
    from gen3d.samplers.equijump import card_settings

    plain = DynamicsSampler.from_checkpoint(str(ckpt))
    assert plain.settings == JumpSettings()  # a card without sampling settings: ODE, 8 steps
    assert DynamicsSampler(plain.model, {**plain.card, "sampling": {"mode": "sde", "steps": 32}}).settings == JumpSettings("sde", 1.0, 32, 8)

    card = {"sampling": {"mode": "sde", "eps": 2.0, "steps": 64}}
    assert card_settings(card) == JumpSettings("sde", 2.0, 64, 8)
    assert card_settings(card, mode="ode", steps=4, retries=0) == JumpSettings("ode", 2.0, 4, 0)
    assert card_settings({}, eps=0.5) == JumpSettings("ode", 0.5, 8, 8)


def test_local_backbone_rolls_out_capped_peptides_and_the_card_can_ask_for_projection(tmp_path, md, start):
    folder = tiny_equijump(tmp_path / "local", md, replace(TINY_JUMP, backbone="local", local_hidden=16, local_layers=2))
    raw = DynamicsSampler.from_checkpoint(str(folder), jumps=3, settings=JumpSettings("sde", 1.0, 4, retries=0))
    model, card = raw.model, {**raw.card, "sampling": {"mode": "sde", "steps": 4, "project": True}}
    projected = DynamicsSampler(model, card, jumps=3)
    assert projected.settings.project and not raw.settings.project
    x0 = match_topology(start, card)
    geometry = card["data"]["covalent_geometry"]  # mean lengths over the training frames
    pairs, target = np.asarray(geometry["pairs"]), np.asarray(geometry["lengths"])
    for sampler, tolerance in ((raw, None), (projected, 0.02)):
        frames = np.stack(list(sampler.rollout(x0, 4, 3, seed=2)))  # (jumps, walkers, n, 3)
        assert np.isfinite(frames).all() and frames.std(1).max() > 1e-3  # walkers differ
        error = np.abs(np.linalg.norm(frames[..., pairs[:, 0], :] - frames[..., pairs[:, 1], :], axis=-1) - target)
        if tolerance is not None:
            assert error.max() < tolerance  # every bond length and angle distance at its training mean after every jump
        else:
            assert error.max() > 0.05  # the untrained raw model does not keep them: the projection is what did


def test_projection_targets_the_training_mean_lengths_else_the_start(ckpt, md, start):
    """Mean lengths come from the training frames; a card without them falls back on the start frame's."""
    from gen3d.samplers.covalent_projection import constraint_pairs, mean_covalent_geometry

    frames = load_trajectories(md).trajectories
    geometry = mean_covalent_geometry(frames)
    pairs = np.asarray(geometry["pairs"])
    np.testing.assert_array_equal(pairs, constraint_pairs(frames[0][0]))
    lengths = np.concatenate([np.linalg.norm(t[:, pairs[:, 0]] - t[:, pairs[:, 1]], axis=-1) for t in frames]).mean(0)
    np.testing.assert_allclose(geometry["lengths"], lengths, atol=1e-4)
    sampler = DynamicsSampler.from_checkpoint(str(ckpt), jumps=1)
    x0 = match_topology(start, sampler.card)
    np.testing.assert_allclose(sampler.projection(x0).lengths.numpy(), sampler.card["data"]["covalent_geometry"]["lengths"])
    bare = DynamicsSampler(sampler.model, {**sampler.card, "data": {k: v for k, v in sampler.card["data"].items() if k != "covalent_geometry"}})
    own = np.linalg.norm(x0[pairs[:, 0]] - x0[pairs[:, 1]], axis=-1)
    np.testing.assert_allclose(bare.projection(x0).lengths.numpy(), own, atol=1e-9)
