"""Miniprotein sampler and the autoencoder sampler: lengths, determinism, conditions, checkpoint pairing."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from gen3d.checkpoints import CheckpointError
from gen3d.io.pdb import read_protein
from gen3d.samplers.base import ConditionError, Length, StartFragment
from gen3d.samplers.ophiuchus_ddpm import DEFAULT_SAMPLING, MiniproteinSampler, Sampling, sampling_for
from gen3d.structures import Molecule
from gen3d_cli.app import app
from tests.protein_fixtures import tiny_autoencoder, tiny_denoiser


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    ae = tiny_autoencoder(tmp_path_factory.mktemp("ae"))
    return ae, tiny_denoiser(tmp_path_factory.mktemp("ddpm"), ae)


def test_lengths_come_from_the_range_and_are_reproducible(ckpts):
    sampler = MiniproteinSampler.from_checkpoint(str(ckpts[1]), lengths=(10, 20), sampling=sampling_for(steps=4, guidance=0.0), relax=None)
    a = list(sampler.sample(5, seed=3, batch_size=2))
    b = list(sampler.sample(5, seed=3, batch_size=2))
    assert [p.num_residues for p in a] == [p.num_residues for p in b]
    assert all(10 <= p.num_residues <= 20 for p in a)
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b))
    assert all((p.atom_names == "OXT").sum() == 1 for p in a)


def test_length_condition_and_refused_conditions(ckpts):
    sampler = MiniproteinSampler.from_checkpoint(str(ckpts[1]), sampling=sampling_for(steps=3, guidance=0.0), relax=None)
    assert [p.num_residues for p in sampler.sample(2, seed=0, condition=Length(13))] == [13, 13]
    with pytest.raises(ConditionError):
        list(sampler.sample(1, condition=StartFragment(Molecule([6], [[0.0, 0.0, 0.0]]))))
    with pytest.raises(ConditionError):
        MiniproteinSampler.from_checkpoint(str(ckpts[1]), sampling=Sampling("euler"))
    with pytest.raises(ConditionError, match="apply to the ddim scheduler"):
        MiniproteinSampler.from_checkpoint(str(ckpts[1]), sampling=sampling_for("ddpm", noise_scale=0.5))


GUIDANCE = DEFAULT_SAMPLING.guidance


def test_sampling_defaults_fill_only_what_is_not_given():
    assert GUIDANCE > 0  # the shipped default is guided
    assert sampling_for() == DEFAULT_SAMPLING == Sampling("ddim", 500, eta=1.0, noise_scale=0.35, guidance=GUIDANCE)
    assert sampling_for(noise_scale=0.3) == Sampling("ddim", 500, eta=1.0, noise_scale=0.3, guidance=GUIDANCE)
    assert sampling_for(guidance=0.0) == Sampling("ddim", 500, eta=1.0, noise_scale=0.35)
    assert sampling_for("ddim") == Sampling("ddim", None, eta=0.0, noise_scale=1.0)  # a named scheduler: its own defaults
    assert sampling_for("dpm", steps=25) == Sampling("dpm", 25)


def test_relaxed_samples_are_unbroken_and_reproducible(ckpts):
    """Amber relaxation (the default) of decoded chains: no chain breaks, marked as relaxed, same seed same atoms."""
    from gen3d.metrics.proteins import score_protein

    sampler = MiniproteinSampler.from_checkpoint(str(ckpts[1]), lengths=(10, 12), sampling=sampling_for(steps=3, guidance=0.0))
    a = list(sampler.sample(2, seed=5))
    assert all(p.properties["relaxed"] for p in a)
    assert all(score_protein(p)[0]["chain_breaks"] == 0 for p in a)
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, sampler.sample(2, seed=5)))


def test_denoiser_refuses_an_autoencoder_it_was_not_trained_with(ckpts, tmp_path):
    other = tiny_autoencoder(tmp_path / "other", seed=1)
    with pytest.raises(CheckpointError, match="not the one"):
        MiniproteinSampler.from_checkpoint(str(ckpts[1]), autoencoder=str(other))


def test_cli_sample_writes_one_pdb_per_protein(ckpts, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["proteins", "sample", "--n", "3", "--length", "12-16", "--out", str(out), "--steps", "3",
                                   "--checkpoint", str(ckpts[1]), "--device", "cpu", "--no-eval", "--no-relax", "--guidance", "0"])
    assert res.exit_code == 0, res.output
    files = sorted(out.glob("*.pdb"))
    assert [f.name for f in files] == ["sample_0000.pdb", "sample_0001.pdb", "sample_0002.pdb"]
    assert all(12 <= read_protein(f).num_residues <= 16 for f in files)


def test_cli_sample_with_a_named_structure_guide(ckpts, tmp_path):
    from tests.protein_fixtures import tiny_classifier

    guide = tiny_classifier(tmp_path / "ss", ckpts[1])
    out = tmp_path / "out"
    args = ["proteins", "sample", "--n", "2", "--length", "12", "--out", str(out), "--steps", "3", "--checkpoint", str(ckpts[1]),
            "--device", "cpu", "--no-eval", "--no-relax", "--guide", str(guide), "--guidance", "2"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "structure guidance" in " ".join(res.output.split()) and len(list(out.glob("*.pdb"))) == 2
    res = CliRunner().invoke(app, args[:-4] + ["--guide", str(ckpts[1]), "--guidance", "2"])  # a DDPM is no classifier
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_reconstruction_does_not_invent_atoms_the_input_lacks(ckpts):
    from dataclasses import replace

    from gen3d.data.protein_chains import residue_chains
    from gen3d.data.residues import SLOT_EXISTS
    from gen3d.samplers.ophiuchus import ProteinAutoencoder
    from tests.protein_fixtures import dssp_chain

    auto = ProteinAutoencoder.from_checkpoint(str(ckpts[0]))
    (chain,) = residue_chains(read_protein(dssp_chain("4gcnA")))
    latent, centre = auto.encode([chain])
    predicted = auto.decode(latent, [chain], centre)[0]
    assert (predicted.mask == SLOT_EXISTS[predicted.aatype]).all()  # sampling: every atom of the type
    template = replace(chain, aatype=predicted.aatype, mask=SLOT_EXISTS[predicted.aatype].copy())
    template.mask[3, 4:] = False  # residue 3 lost its side chain in the "input"
    kept = auto.decode(latent, [template], centre, keep_missing=True)[0]
    assert not kept.mask[3, 4:].any() and kept.mask[3, :4].all() and kept.mask[4:].sum() == template.mask[4:].sum()
