"""How much latent error an Ophiuchus decoder tolerates: decoded-structure quality against Gaussian noise on latents.

Encodes whole held-out chains of 40-80 residues, adds noise in the latent DDPM's normalised units
(positions: ``pos`` x 10 Å; features: ``feat`` x each channel's spread) and scores the decoded
chains with ``gen3d proteins evaluate``'s metrics. A latent DDPM's samples are only as good as the
decoder is tolerant of the DDPM's error, so this is the bar a denoiser must clear.

    python benchmarks/latent_noise.py --autoencoder ophiuchus-pdb-x2 --dataset DATASET
    python benchmarks/latent_noise.py --autoencoder ophiuchus-pdb-x2-decoder --dataset DATASET
(DATASET = gen3d proteins data --from ../shared/data/pdb70 --out DATASET)
"""

from __future__ import annotations

import argparse
import json

import torch

from gen3d.data.protein_chains import protein_from_chains
from gen3d.data.protein_corpus import load_fragments
from gen3d.metrics.proteins import evaluate_proteins
from gen3d.models.ophiuchus.autoencoder import Latent
from gen3d.models.ophiuchus.denoiser import DenoiserConfig
from gen3d.models.ophiuchus.diffusion import DiffusionConfig, LatentDiffusion
from gen3d.samplers.ophiuchus import ProteinAutoencoder
from gen3d.train.latent_diffusion import encode_segments, unique_chains

LEVELS = ((0.0, 0.0), (0.0, 0.1), (0.0, 0.2), (0.0, 0.3), (0.05, 0.0), (0.05, 0.2), (0.1, 0.3))
KEYS = ("has_break", "chain_breaks", "rama_allowed", "has_clash", "structured")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--autoencoder", default="ophiuchus-pdb-x2")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", default="valid")
    ap.add_argument("--chains", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    auto = ProteinAutoencoder.from_checkpoint(args.autoencoder)
    data = load_fragments(args.dataset)
    train = unique_chains(data, data.indices("train", 40, 80, whole=True))
    segments = unique_chains(data, data.indices(args.split, 40, 80, whole=True))[: args.chains]
    chains = [data.segment(int(s)) for s in segments]
    latent = encode_segments(auto, data, segments)
    mask = latent.mask.bool()
    units = LatentDiffusion(DiffusionConfig(DenoiserConfig(latent_irreps=str(auto.model.config.irreps_latent),
                                                           irreps_hidden="4x0e + 2x1o", num_layers=1)))
    fit = encode_segments(auto, data, train)
    units.fit_normalisation(fit.positions, fit.features, fit.mask)
    pos, feat = units.normalise(latent.positions, latent.features, mask)
    generator = torch.Generator().manual_seed(0)
    rows = []
    print(f"{args.autoencoder}: {len(chains)} whole {args.split} chains of 40-80 residues")
    print("pos_noise feat_noise " + " ".join(KEYS))
    for p_noise, f_noise in LEVELS:
        p = pos + p_noise * torch.randn(pos.shape, generator=generator)
        f = feat + f_noise * torch.randn(feat.shape, generator=generator)
        noisy = Latent(*units.denormalise(p, f, mask), mask)
        decoded = auto.decode(noisy, chains)
        metrics = evaluate_proteins([protein_from_chains([c], name=f"c{k}") for k, c in enumerate(decoded)], tm=False)["metrics"]
        row = {"position_noise": p_noise, "feature_noise": f_noise, **{k: metrics[k] for k in KEYS}}
        rows.append(row)
        print(f"{p_noise:9.2f} {f_noise:10.2f} " + " ".join(f"{row[k]:.3f}" for k in KEYS), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"autoencoder": args.autoencoder, "split": args.split, "chains": len(chains), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
