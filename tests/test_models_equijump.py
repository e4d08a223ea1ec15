"""EquiJump network and interpolant: E(3) equivariance with random weights, permutation, schedule endpoints."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3

from gen3d.models.equijump import EquiJumpConfig, EquiJumpNet, Interpolant
from gen3d.models.equijump.interpolant import centred

CONFIG = EquiJumpConfig(vocabulary=tuple(f"X:{i}" for i in range(6)), irreps_hidden="8x0e + 4x1o + 2x2e", layers=2, num_basis=6,
                        radial_hidden=8, cutoff=6.0)


def _inputs(B=3, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = torch.arange(B).repeat_interleave(n)
    tokens = torch.arange(n).repeat(B)
    residues = torch.tensor([0, 0, 1, 1, 1, 2]).repeat(B)
    x0 = torch.randn(B * n, 3, generator=g, dtype=torch.float64) * 2
    xs = x0 + 0.4 * torch.randn(B * n, 3, generator=g, dtype=torch.float64)
    s = torch.rand(B, generator=g, dtype=torch.float64)
    return tokens, residues, x0, xs, s, batch


@pytest.fixture
def net():
    torch.manual_seed(3)
    return EquiJumpNet(CONFIG).double()


def _assert_e3_equivariant(net, tokens, residues, x0, xs, s, batch) -> torch.Tensor:
    """Outputs rotate with proper and improper rotations and ignore translations (1e-9, float64); returns b."""
    b, eta = net(tokens, residues, x0, xs, s, batch)
    for R in (o3.rand_matrix(dtype=torch.float64), -o3.rand_matrix(dtype=torch.float64)):  # proper and improper
        t = torch.randn(3, dtype=torch.float64)
        b2, eta2 = net(tokens, residues, x0 @ R.T + t, xs @ R.T + t, s, batch)
        torch.testing.assert_close(b2, b @ R.T, atol=1e-9, rtol=0)
        torch.testing.assert_close(eta2, eta @ R.T, atol=1e-9, rtol=0)
    return b


def test_outputs_rotate_with_the_system_and_ignore_translation(net):
    tokens, residues, x0, xs, s, batch = _inputs()
    b = _assert_e3_equivariant(net, tokens, residues, x0, xs, s, batch)
    assert b.abs().mean() > 1e-3  # not trivially zero


def test_outputs_follow_a_permutation_of_atoms(net):
    tokens, residues, x0, xs, s, batch = _inputs(B=1)
    perm = torch.randperm(len(x0))
    b, eta = net(tokens, residues, x0, xs, s, batch)
    b2, eta2 = net(tokens[perm], residues[perm], x0[perm], xs[perm], s, batch)
    torch.testing.assert_close(b2, b[perm], atol=1e-10, rtol=0)
    torch.testing.assert_close(eta2, eta[perm], atol=1e-10, rtol=0)


def test_systems_in_a_batch_do_not_interact(net):
    tokens, residues, x0, xs, s, batch = _inputs(B=2)
    b, _ = net(tokens, residues, x0, xs, s, batch)
    x0_moved, xs_moved = x0.clone(), xs.clone()
    x0_moved[6:] += 0.3
    xs_moved[6:] = xs_moved[6:] * 1.1
    b2, _ = net(tokens, residues, x0_moved, xs_moved, s, batch)
    torch.testing.assert_close(b2[:6], b[:6], atol=1e-12, rtol=0)


def test_interpolant_hits_both_ends_and_its_targets_are_consistent():
    interp = Interpolant("bridge", gamma_scale=2.0, base_noise=0.0)
    batch = torch.zeros(5, dtype=torch.long)
    x0, x1 = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    for s_value, expected in ((0.0, x0), (1.0, x1)):
        s = torch.full((5, 1), s_value, dtype=torch.float64)
        xs, _, _ = interp.sample_path(x0, x1, s, batch, 1)
        torch.testing.assert_close(xs, expected)
    # the drift target is the time derivative of the path for fixed noise
    torch.manual_seed(1)
    h = 1e-6
    s = torch.full((5, 1), 0.3, dtype=torch.float64)
    torch.manual_seed(2)
    xa, b, z = interp.sample_path(x0, x1, s, batch, 1)
    torch.manual_seed(2)
    xb, _, _ = interp.sample_path(x0, x1, s + h, batch, 1)
    torch.testing.assert_close((xb - xa) / h, b, atol=1e-5, rtol=0)
    assert torch.allclose(centred(z, batch, 1).mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_gaussian_start_ignores_the_current_frame():
    interp = Interpolant("gaussian", prior_scale=3.0)
    batch = torch.zeros(400, dtype=torch.long)
    x0 = torch.full((400, 3), 50.0)
    start = interp.base(x0, batch, 1, torch.Generator().manual_seed(0))
    assert start.mean().abs() < 0.5 and 2.5 < start.std() < 3.5
    with pytest.raises(ValueError, match="unknown interpolant"):
        Interpolant("other").base(x0, batch, 1)


def test_chirality_features_keep_rotations_and_tell_mirror_images_apart():
    from dataclasses import replace

    torch.manual_seed(4)
    net = EquiJumpNet(replace(CONFIG, chirality=4)).double()
    tokens, residues, x0, xs, s, batch = _inputs()
    x0 = x0 * 0.5  # bring neighbours within the 2 Å of the chirality features
    xs = x0 + 0.1 * (xs - x0)
    b, eta = net(tokens, residues, x0, xs, s, batch)
    R = o3.rand_matrix(dtype=torch.float64)
    b2, eta2 = net(tokens, residues, x0 @ R.T, xs @ R.T, s, batch)
    torch.testing.assert_close(b2, b @ R.T, atol=1e-9, rtol=0)
    torch.testing.assert_close(eta2, eta @ R.T, atol=1e-9, rtol=0)
    assert net.chirality_features(tokens, x0, net.edges(x0, batch)).abs().max() > 1e-3
    b_mirror, _ = net(tokens, residues, -x0, -xs, s, batch)
    assert (b_mirror - (-b)).abs().max() > 1e-4  # an enantiomer is a different input, not a reflected one


def test_cross_product_messages_keep_rotations_and_tell_mirror_images_apart():
    from dataclasses import replace

    torch.manual_seed(5)
    net = EquiJumpNet(replace(CONFIG, cross_products=True)).double()
    tokens, residues, x0, xs, s, batch = _inputs()
    b, eta = net(tokens, residues, x0, xs, s, batch)
    R = o3.rand_matrix(dtype=torch.float64)
    t = torch.randn(3, dtype=torch.float64)
    b2, eta2 = net(tokens, residues, x0 @ R.T + t, xs @ R.T + t, s, batch)
    torch.testing.assert_close(b2, b @ R.T, atol=1e-9, rtol=0)
    torch.testing.assert_close(eta2, eta @ R.T, atol=1e-9, rtol=0)
    b_mirror, _ = net(tokens, residues, -x0, -xs, s, batch)
    assert (b_mirror - (-b)).abs().max() > 1e-4  # triple products see the handedness of x0 and xs


def test_messages_that_see_both_atoms_keep_e3_equivariance_and_permutations():
    from dataclasses import replace

    torch.manual_seed(6)
    net = EquiJumpNet(replace(CONFIG, message_scalars=4)).double()
    tokens, residues, x0, xs, s, batch = _inputs()
    b = _assert_e3_equivariant(net, tokens, residues, x0, xs, s, batch)
    tokens, residues, x0, xs, s, batch = _inputs(B=1)
    perm = torch.randperm(len(x0))
    b, _ = net(tokens, residues, x0, xs, s, batch)
    b2, _ = net(tokens[perm], residues[perm], x0[perm], xs[perm], s, batch)
    torch.testing.assert_close(b2, b[perm], atol=1e-10, rtol=0)
    plain = EquiJumpNet(CONFIG)
    assert sum(p.numel() for p in net.parameters()) > sum(p.numel() for p in plain.parameters())  # the option is wired in


def _assert_so3_not_o3(net, tokens, residues, x0, xs, s, batch) -> torch.Tensor:
    """Outputs rotate with proper rotations and ignore translations (1e-9, float64), but a mirror image
    is a different input (proper frames tell enantiomers apart); returns b."""
    b, eta = net(tokens, residues, x0, xs, s, batch)
    assert b.abs().max() > 1e-3 and eta.abs().max() > 1e-3  # random weights give a non-trivial field
    for _ in range(3):
        R, t = o3.rand_matrix(dtype=torch.float64), torch.randn(3, dtype=torch.float64)
        b2, eta2 = net(tokens, residues, x0 @ R.T + t, xs @ R.T + t, s, batch)
        torch.testing.assert_close(b2, b @ R.T, atol=1e-9, rtol=0)
        torch.testing.assert_close(eta2, eta @ R.T, atol=1e-9, rtol=0)
    b_mirror, _ = net(tokens, residues, -x0, -xs, s, batch)
    assert (b_mirror - (-b)).abs().max() > 1e-4
    return b


def test_frame_backbone_rotates_with_the_system_and_is_not_mirror_symmetric():
    from dataclasses import replace

    from gen3d.models.equijump import build_network

    torch.manual_seed(7)
    net = build_network(replace(CONFIG, backbone="frame", atoms=6, frame_hidden=32, frame_layers=2)).double()
    tokens, residues, x0, xs, s, batch = _inputs()
    net.set_reference(x0[:6] + 0.3 * torch.randn(6, 3, dtype=torch.float64))
    b = _assert_so3_not_o3(net, tokens, residues, x0, xs, s, batch)
    b_alone, _ = net(tokens[:6], residues[:6], x0[:6], xs[:6], s[:1], batch[:6])
    torch.testing.assert_close(b_alone, b[:6], atol=1e-12, rtol=0)  # systems in a batch do not interact
    with pytest.raises(ValueError, match="6 atoms per system"):
        net(tokens[:5], residues[:5], x0[:5], xs[:5], s[:1], batch[:5])


def test_frame_plus_graph_backbone_is_the_sum_and_rotates_with_the_system():
    from dataclasses import replace

    from gen3d.models.equijump import build_network

    torch.manual_seed(8)
    net = build_network(replace(CONFIG, backbone="frame+graph", atoms=6, frame_hidden=16, frame_layers=2, frame_input_scale=0.1)).double()
    tokens, residues, x0, xs, s, batch = _inputs()
    net.set_reference(x0[:6])
    b, eta = net(tokens, residues, x0, xs, s, batch)
    b_frame, eta_frame = net.frame(tokens, residues, x0, xs, s, batch)
    b_graph, eta_graph = net.graph(tokens, residues, x0, xs, s, batch)
    torch.testing.assert_close(b, b_frame + b_graph, atol=1e-12, rtol=0)
    torch.testing.assert_close(eta, eta_frame + eta_graph, atol=1e-12, rtol=0)
    R, t = o3.rand_matrix(dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    context = net.context(x0 @ R.T + t, batch)
    b2, eta2 = net(tokens, residues, x0 @ R.T + t, xs @ R.T + t, s, batch, context)
    torch.testing.assert_close(b2, b @ R.T, atol=1e-9, rtol=0)
    torch.testing.assert_close(eta2, eta @ R.T, atol=1e-9, rtol=0)


def _peptide_inputs(B=3, seed=0):
    """Three residues of N, CA, C, O (+ CB on the middle one) in random positions, B systems."""
    g = torch.Generator().manual_seed(seed)
    names = ["N", "CA", "C", "O", "N", "CA", "C", "O", "CB", "N", "CA", "C", "O"]
    residues = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2])
    vocabulary = tuple(sorted({f"ALA:{a}" for a in names}))
    tokens = torch.tensor([vocabulary.index(f"ALA:{a}") for a in names])
    n = len(names)
    x0 = torch.randn(B * n, 3, generator=g, dtype=torch.float64) * 2
    xs = x0 + 0.4 * torch.randn(B * n, 3, generator=g, dtype=torch.float64)
    s = torch.rand(B, generator=g, dtype=torch.float64)
    return vocabulary, tokens.repeat(B), residues.repeat(B), x0, xs, s, torch.arange(B).repeat_interleave(n)


def test_local_frame_backbone_rotates_with_the_system_and_keeps_systems_apart():
    from dataclasses import replace

    from gen3d.models.equijump import build_network

    vocabulary, tokens, residues, x0, xs, s, batch = _peptide_inputs()
    torch.manual_seed(9)
    net = build_network(replace(CONFIG, vocabulary=vocabulary, backbone="local", local_hidden=16, local_layers=2)).double()
    b = _assert_so3_not_o3(net, tokens, residues, x0, xs, s, batch)
    n = 13
    perm = torch.randperm(n)
    b_perm, _ = net(tokens[:n][perm], residues[:n][perm], x0[:n][perm], xs[:n][perm], s[:1], batch[:n])
    torch.testing.assert_close(b_perm, b[:n][perm], atol=1e-9, rtol=0)  # row order does not matter
    b_alone, _ = net(tokens[n:2 * n], residues[n:2 * n], x0[n:2 * n], xs[n:2 * n], s[1:2], batch[:n])
    torch.testing.assert_close(b_alone, b[n:2 * n], atol=1e-9, rtol=0)  # systems in a batch do not interact
    keep = torch.arange(len(x0)) != 1  # the first residue of the first system loses its CA: it borrows residue 2's frame
    b_cap, _ = net(tokens[keep], residues[keep], x0[keep], xs[keep], s, batch[keep])
    R = o3.rand_matrix(dtype=torch.float64)
    b_cap_rot, _ = net(tokens[keep], residues[keep], x0[keep] @ R.T, xs[keep] @ R.T, s, batch[keep])
    torch.testing.assert_close(b_cap_rot, b_cap @ R.T, atol=1e-9, rtol=0)
    lone = torch.isin(torch.arange(len(x0)), torch.tensor([1, 5, 10]))  # no residue of the first system keeps all three
    with pytest.raises(ValueError, match="N, CA and C in every residue"):
        net(tokens[~lone], residues[~lone], x0[~lone], xs[~lone], s, batch[~lone])


def test_local_frame_fast_path_matches_the_plain_message_formula(monkeypatch):
    """The hot path (edge input split into per-jump and per-step columns, message layer moved after the sum,
    edges in chunks, in-place buffers without autograd) equals the textbook per-edge formula (1e-10, float64)."""
    from dataclasses import replace

    from gen3d.models.equijump import build_network, local_net
    from gen3d.nn.scatter import scatter_sum

    vocabulary, tokens, residues, x0, xs, s, batch = _peptide_inputs()
    torch.manual_seed(4)
    net = build_network(replace(CONFIG, vocabulary=vocabulary, backbone="local", local_hidden=16, local_layers=2)).double()
    c = net.context(x0, batch, tokens, residues)
    src, dst = c.edges
    h = torch.randn(len(x0), 16, dtype=torch.float64)
    rs = local_net._apply(c.edge_rot, xs[src] - xs[dst])
    lens = rs.norm(dim=-1, keepdim=True)
    basis = torch.cat([local_net.gaussian_basis(c.len0[:, 0] / local_net.LENGTH_SCALE, CONFIG.local_cutoff, CONFIG.num_basis),
                       torch.nn.functional.one_hot((residues[src] - residues[dst]).clamp(-3, 3) + 3, 7).double()], -1)
    edge = torch.cat([c.r0, rs, c.len0, lens, (lens - c.len0) / local_net.LENGTH_SCALE, basis], -1)
    varying = torch.cat([rs, lens, (lens - c.len0) / local_net.LENGTH_SCALE], -1)
    for k in range(2):
        plain = net.message[k](torch.nn.functional.silu(net.edge_in[k](edge) + net.send[k](h)[src] + net.receive[k](h)[dst]))
        expected = scatter_sum(plain, dst, len(x0))
        for chunk in (5, 4096):
            monkeypatch.setattr(local_net, "EDGE_CHUNK", chunk)
            for grad in (False, True):
                with torch.set_grad_enabled(grad):
                    summed = net._summed_activations(k, h, varying, c)
                got = torch.nn.functional.linear(summed, net.message[k].weight) + c.count * net.message[k].bias
                torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)
