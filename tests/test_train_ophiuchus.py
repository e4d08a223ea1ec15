"""Autoencoder and latent-DDPM training: resume continues exactly, exports load, DDP runs on gloo."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gen3d.checkpoints import save_checkpoint
from gen3d.data.protein_corpus import save_fragments
from gen3d.samplers.ophiuchus import ProteinAutoencoder
from gen3d.train.loop import TrainConfig, train
from gen3d.train.ophiuchus import OphiuchusTask, make_card
from tests.protein_fixtures import TINY_AE, tiny_autoencoder, toy_fragments

CFG = TrainConfig(steps=4, batch_size=2, lr=3e-3, warmup=1, log_every=1, validate_every=0, save_every_s=0.0, num_workers=0)


def _run(out: Path, cfg: TrainConfig, data) -> dict:
    task = OphiuchusTask(TINY_AE, data, window=24)
    return train(task, cfg, out, torch.device("cpu"), echo=None)


def test_resume_matches_an_uninterrupted_run(tmp_path):
    data = toy_fragments(tmp_path / "src")
    _run(tmp_path / "straight", CFG, data)
    _run(tmp_path / "split", replace(CFG, steps=2), data)
    assert _run(tmp_path / "split", CFG, data)["step"] == 4
    a = torch.load(tmp_path / "straight" / "state.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split" / "state.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_validation_and_export(tmp_path):
    data = toy_fragments(tmp_path / "src")
    task = OphiuchusTask(TINY_AE, data, window=24)
    metrics = task.validate(task.model, torch.device("cpu"))
    assert {"valid_loss", "valid_ca_rmsd", "valid_all_atom_rmsd", "valid_recovery"} <= set(metrics)
    info = train(task, replace(CFG, steps=2), tmp_path / "run", torch.device("cpu"), echo=None)
    card = make_card("toy", TINY_AE, CFG, {"window": 24}, data, info, "cpu", {"type": 2.0})
    save_checkpoint(tmp_path / "export", task.model.state_dict(), card)
    auto = ProteinAutoencoder.from_checkpoint(str(tmp_path / "export"))
    assert auto.compression == TINY_AE.compression and card["training"]["loss_weights"]["type"] == 2.0


def _tiny_config(tmp_path: Path, ae: Path, name: str, head: str, data: str, steps: int = 2) -> Path:
    """A config file for a tiny run on ``tmp_path/toy.npz`` over the autoencoder ``ae``: ``head`` (kind and model
    sections), the shared [train] settings, then ``data`` lines of the [data] section."""
    shared = textwrap.dedent(f"""
        [train]
        steps = {steps}
        batch_size = 2
        warmup = 1
        log_every = 1
        validate_every = 2
        save_every_s = 0
        num_workers = 0
        [data]
        dataset = "{tmp_path / 'toy.npz'}"
        autoencoder = "{ae}"
    """)
    path = tmp_path / name
    path.write_text(textwrap.dedent(head) + shared + textwrap.dedent(data))
    return path


def test_latent_ddpm_trains_on_encoded_chains(tmp_path):
    from gen3d.train.config import load_config
    from gen3d.train.latent_diffusion import train_latent_diffusion

    save_fragments(tmp_path / "toy.npz", toy_fragments(tmp_path / "src"))
    ae = tiny_autoencoder(tmp_path / "ae")
    cfg_path = _tiny_config(tmp_path, ae, "ddpm.toml", f"""
        kind = "latent-ddpm"
        [model.denoiser]
        latent_irreps = "{TINY_AE.irreps_latent}"
        irreps_hidden = "8x0e + 4x1o + 2x2e"
        num_layers = 1
    """, """
        lengths = [100, 130]
        windows = 4
        whole_fraction = 0.5
    """)
    info = train_latent_diffusion(load_config(cfg_path), tmp_path / "run", torch.device("cpu"), echo=None)
    assert info["step"] == 2 and "valid_loss" in info["validation"]
    from gen3d.samplers.ophiuchus_ddpm import MiniproteinSampler, sampling_for

    sampler = MiniproteinSampler.from_checkpoint(str(tmp_path / "run" / "export"), lengths=(30, 40),
                                                 sampling=sampling_for(steps=2, guidance=0.0), relax=None)
    assert 30 <= next(iter(sampler.sample(1, seed=0))).num_residues <= 40

    # Warm start (train.init_from): with a frozen learning rate the export keeps the start's weights and
    # normalisation buffers, and the card names the start.
    import json

    from safetensors.torch import load_file

    config = load_config(cfg_path)
    start = tmp_path / "run" / "export"
    config["train"] = {**config["train"], "lr": 0.0, "min_lr": 0.0, "init_from": str(start)}
    train_latent_diffusion(config, tmp_path / "warm", torch.device("cpu"), echo=None)
    a, b = load_file(start / "model.safetensors"), load_file(tmp_path / "warm" / "export" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    card = json.loads((tmp_path / "warm" / "export" / "card.json").read_text())
    assert card["training"]["init_from"]["sha256"] == json.loads((start / "card.json").read_text())["sha256"]


SCRIPT = textwrap.dedent(
    """
    import sys, torch, torch.distributed as dist
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from gen3d.train.loop import TrainConfig, train
    from gen3d.train.ophiuchus import OphiuchusTask
    from tests.protein_fixtures import TINY_AE, toy_fragments
    torch.set_num_threads(1)
    task = OphiuchusTask(TINY_AE, toy_fragments(Path({src!r}) / str(dist.get_rank() if dist.is_initialized() else 0)), window=24)
    cfg = TrainConfig(steps=3, batch_size=2, warmup=1, log_every=1, validate_every=0, save_every_s=1e9, num_workers=0)
    train(task, cfg, Path({out!r}), torch.device("cpu"), echo=None)
    flat = torch.cat([p.detach().flatten() for p in task.model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    assert dist.get_world_size() == 2 and torch.equal(gathered[0], gathered[1]), "replicas diverged"
    print("rank", dist.get_rank(), "ok")
    dist.destroy_process_group()
    """
)


def test_ddp_two_cpu_processes_on_gloo(tmp_path):
    root = str(Path(__file__).resolve().parent.parent)
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT.format(root=root, src=str(tmp_path / "src"), out=str(tmp_path / "run")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29541", str(script)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("ok") == 2


def _readout_config(tmp_path: Path, ae: Path, steps: int) -> dict:
    from gen3d.train.config import load_config

    head = """
        kind = "type-readout"
        name = "tiny-readout"
        [readout]
        kernel = 3
        width = 16
        layers = 2
        dropout = 0.1
        levels = 1
    """
    data = """
        window = 24
        min_window = 16
        valid_windows = 4
    """
    return load_config(_tiny_config(tmp_path, ae, "readout.toml", head, data, steps))


def _straight_and_split(tmp_path: Path, trainer, make_config) -> tuple[dict, Path]:
    """Run ``trainer`` for 4 steps straight and as 2 + 2 (resumed) on a tiny autoencoder; assert both end with
    the same weights; return the resumed run's info and the autoencoder."""
    save_fragments(tmp_path / "toy.npz", toy_fragments(tmp_path / "src"))
    ae = tiny_autoencoder(tmp_path / "ae")
    cpu = torch.device("cpu")
    trainer(make_config(tmp_path, ae, 4), tmp_path / "straight", cpu, echo=None)
    trainer(make_config(tmp_path, ae, 2), tmp_path / "split", cpu, echo=None)
    info = trainer(make_config(tmp_path, ae, 4), tmp_path / "split", cpu, echo=None)
    a = torch.load(tmp_path / "straight" / "state.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split" / "state.pt", weights_only=True)["model"]
    assert info["step"] == 4 and set(a) == set(b) and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    return info, ae


def test_type_readout_resumes_exactly_and_exports_the_frozen_trunk_with_it(tmp_path):
    from gen3d.checkpoints import load_checkpoint
    from gen3d.train.ophiuchus_readout import train_type_readout

    info, ae = _straight_and_split(tmp_path, train_type_readout, _readout_config)
    cpu = torch.device("cpu")
    assert 0 <= info["validation"]["valid_recovery"] <= 1
    trunk, _ = load_checkpoint(ae, "ophiuchus")
    exported, card = load_checkpoint(tmp_path / "split" / "export", "ophiuchus")
    assert all(torch.equal(trunk[k], exported[k]) for k in trunk)
    assert card["config"]["type_readout_kernel"] == 3 and card["config"]["type_readout_levels"] == 1
    assert card["metrics"] is None
    auto = ProteinAutoencoder.from_checkpoint(str(tmp_path / "split" / "export"))
    assert auto.model.type_readout is not None
    # refitting on an export replaces its readout; the trunk stays the same
    train_type_readout(_readout_config(tmp_path, tmp_path / "split" / "export", 1), tmp_path / "refit", cpu, echo=None)
    refit, _ = load_checkpoint(tmp_path / "refit" / "export", "ophiuchus")
    assert set(refit) == set(exported) and all(torch.equal(trunk[k], refit[k]) for k in trunk)


def test_type_readout_rejects_more_levels_than_the_autoencoder_has(tmp_path):
    from gen3d.train.config import ConfigError
    from gen3d.train.ophiuchus_readout import train_type_readout

    save_fragments(tmp_path / "toy.npz", toy_fragments(tmp_path / "src"))
    config = _readout_config(tmp_path, tiny_autoencoder(tmp_path / "ae"), 1)
    config["readout"]["levels"] = 9
    with pytest.raises(ConfigError, match="readout.levels"):
        train_type_readout(config, tmp_path / "run", torch.device("cpu"), echo=None)


def test_type_readout_can_join_the_existing_readout_as_an_ensemble_member(tmp_path):
    from gen3d.checkpoints import load_checkpoint
    from gen3d.train.config import ConfigError
    from gen3d.train.ophiuchus_readout import train_type_readout

    save_fragments(tmp_path / "toy.npz", toy_fragments(tmp_path / "src"))
    ae = tiny_autoencoder(tmp_path / "ae")
    cpu = torch.device("cpu")
    train_type_readout(_readout_config(tmp_path, ae, 2), tmp_path / "one", cpu, echo=None)
    first, _ = load_checkpoint(tmp_path / "one" / "export", "ophiuchus")
    config = _readout_config(tmp_path, tmp_path / "one" / "export", 2)
    config["readout"]["add_member"] = True
    config["train"]["seed"] = 1
    train_type_readout(config, tmp_path / "two", cpu, echo=None)
    both, card = load_checkpoint(tmp_path / "two" / "export", "ophiuchus")
    assert card["config"]["type_readout_members"] == 2 and len(card["type_readout"]["earlier_members"]) == 1
    kept = {k: v for k, v in first.items() if k.startswith("type_readout.")}
    assert all(torch.equal(v, both[k.replace("type_readout.", "type_readout.members.0.")]) for k, v in kept.items())
    assert all(torch.equal(v, both[k]) for k, v in first.items() if not k.startswith("type_readout."))
    auto = ProteinAutoencoder.from_checkpoint(str(tmp_path / "two" / "export"))
    assert len(auto.model.type_readout.members) == 2
    config["readout"]["layers"] = 3  # a member of other settings cannot join
    with pytest.raises(ConfigError, match="add_member"):
        train_type_readout(config, tmp_path / "three", cpu, echo=None)


def _decoder_config(tmp_path: Path, ae: Path, steps: int, **decoder) -> dict:
    from gen3d.train.config import load_config

    lines = "".join(f"        {k} = {v}\n" for k, v in {"position_noise": 0.8, "feature_noise": 0.3, "steric": 1.0, **decoder}.items())
    head = '\n        kind = "decoder"\n        name = "tiny-decoder"\n        [decoder]\n' + lines
    return load_config(_tiny_config(tmp_path, ae, "decoder.toml", head, "\n        window = 24\n", steps))


def test_noisy_decoder_resumes_exactly_and_keeps_the_encoder_byte_identical(tmp_path):
    from gen3d.checkpoints import load_checkpoint
    from gen3d.train.ophiuchus_decoder import ENCODER, train_noisy_decoder

    info, ae = _straight_and_split(tmp_path, train_noisy_decoder, _decoder_config)
    assert {"valid_clean_loss", "valid_noisy_loss", "valid_noisy_steric", "valid_ca_rmsd"} <= set(info["validation"])
    a = torch.load(tmp_path / "split" / "state.pt", weights_only=True)["model"]
    assert not any(k.split(".")[1] in ENCODER for k in a)  # only the decoder is trained
    source, _ = load_checkpoint(ae, "ophiuchus")
    exported, card = load_checkpoint(tmp_path / "split" / "export", "ophiuchus")
    encoder = [k for k in source if k.split(".")[0] in ENCODER]
    assert set(exported) == set(source) and encoder
    assert all(torch.equal(source[k], exported[k]) for k in encoder)
    assert any(not torch.equal(source[k], exported[k]) for k in source if k not in encoder)
    assert card["noisy_decoder"]["settings"]["position_noise"] == 0.8 and card["metrics"] is None
    ProteinAutoencoder.from_checkpoint(str(tmp_path / "split" / "export"))


def test_noisy_decoder_rejects_unknown_or_negative_settings(tmp_path):
    from gen3d.train.config import ConfigError
    from gen3d.train.ophiuchus_decoder import train_noisy_decoder

    save_fragments(tmp_path / "toy.npz", toy_fragments(tmp_path / "src"))
    ae = tiny_autoencoder(tmp_path / "ae")
    for bad, match in [({"position_nosie": 1.0}, "unknown decoder keys"), ({"feature_noise": -0.1}, ">= 0")]:
        with pytest.raises(ConfigError, match=match):
            train_noisy_decoder(_decoder_config(tmp_path, ae, 1, **bad), tmp_path / "run", torch.device("cpu"), echo=None)


def test_noisy_decoder_steric_weight_waits_then_ramps():
    from types import SimpleNamespace

    from gen3d.train.ophiuchus_decoder import NoisyDecoderTask, noise_settings

    task = SimpleNamespace(settings=noise_settings({"decoder": {"steric": 30, "steric_start": 100, "steric_ramp": 50}}))
    weights = [NoisyDecoderTask.steric_weight(task, step) for step in (0, 100, 125, 150, 1000)]
    assert weights == [0.0, 0.0, 15.0, 30.0, 30.0]


def test_latent_ddpm_refuses_irreps_that_are_not_the_autoencoders_latent(tmp_path):
    from gen3d.train.config import ConfigError, load_config
    from gen3d.train.latent_diffusion import train_latent_diffusion

    save_fragments(tmp_path / "toy.npz", toy_fragments(tmp_path / "src"))
    ae = tiny_autoencoder(tmp_path / "ae")
    cfg_path = _tiny_config(tmp_path, ae, "ddpm.toml", """
        kind = "latent-ddpm"
        [model]
        source_irreps = "3x0e + 1x1o"
        [model.denoiser]
        latent_irreps = "2x0e + 1x1o"
        irreps_hidden = "8x0e + 4x1o"
        num_layers = 1
    """, "\n        lengths = [100, 130]\n")
    with pytest.raises(ConfigError, match="source_irreps"):
        train_latent_diffusion(load_config(cfg_path), tmp_path / "run", torch.device("cpu"), echo=None)


def test_structure_classifier_trains_in_the_ddpm_space_resumes_exactly_and_guides_sampling(tmp_path):
    """Labels are DSSP fractions per coarse node; a run stopped at step 2 and resumed to 4 equals a run straight to 4;
    the export loads as a guide for the DDPM it was trained against."""
    import json

    import numpy as np
    from safetensors.torch import load_file

    from gen3d.train.config import load_config
    from gen3d.train.structure_classifier import node_labels, train_structure_classifier
    from tests.protein_fixtures import tiny_denoiser

    fragments = toy_fragments(tmp_path / "src")
    save_fragments(tmp_path / "toy.npz", fragments)
    ae = tiny_autoencoder(tmp_path / "ae")
    ddpm = tiny_denoiser(tmp_path / "ddpm", ae)
    chain = fragments.segment(0)
    labels = node_labels(chain, 2)
    assert labels.shape == (-(-len(chain.aatype) // 2), 3) and np.allclose(labels.sum(1), 1.0)
    assert labels[:, 1:].sum() > 0  # real chains have helix or strand

    def config(steps: int) -> dict:
        return load_config(_tiny_config(tmp_path, ae, f"ss{steps}.toml", f"""
            kind = "structure-classifier"
            [model.network]
            latent_irreps = "{TINY_AE.irreps_latent}"
            architecture = "frames"
            window = 3
            width = 16
            heads = 4
            pair_dim = 8
            num_layers = 1
        """, f"""
            diffusion = "{ddpm}"
            lengths = [100, 130]
            windows = 3
        """, steps=steps))

    info = train_structure_classifier(config(2), tmp_path / "a", torch.device("cpu"), echo=None)
    assert info["step"] == 2 and "valid_accuracy_t0" in info["validation"]
    train_structure_classifier(config(4), tmp_path / "a", torch.device("cpu"), echo=None)
    train_structure_classifier(config(4), tmp_path / "b", torch.device("cpu"), echo=None)
    a, b = load_file(tmp_path / "a" / "export" / "model.safetensors"), load_file(tmp_path / "b" / "export" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    card = json.loads((tmp_path / "a" / "export" / "card.json").read_text())
    assert card["diffusion"]["sha256"] == json.loads((ddpm / "card.json").read_text())["sha256"]
    from gen3d.samplers.ophiuchus_ddpm import MiniproteinSampler, sampling_for

    sampler = MiniproteinSampler.from_checkpoint(str(ddpm), guide=str(tmp_path / "a" / "export"), lengths=(12, 12),
                                                 sampling=sampling_for(steps=2, guidance=1.0), relax=None)
    assert next(iter(sampler.sample(1, seed=0))).num_residues == 12
