"""The Ophiuchus autoencoder applied to residue chains: reconstruct through the latent, and
interpolate between two conformations in latent space.

Chains are batched (padded to a multiple of the compression factor) and run in one pass; the
decoded chains keep the input's chain ids and numbering, with the predicted residue types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from gen3d.checkpoints import load_model
from gen3d.data.protein_batches import ResidueBatch
from gen3d.data.protein_chains import ResidueChain
from gen3d.data.residues import SLOT_EXISTS
from gen3d.models.ophiuchus.autoencoder import Latent, Ophiuchus
from gen3d.models.ophiuchus.config import VERSION, OphiuchusConfig
from gen3d.samplers.base import resolve_device
from gen3d.samplers.latent_paths import latent_path
from gen3d.samplers.latent_refinement import Refinement, refine_latent


def load_autoencoder(checkpoint: str) -> tuple[Ophiuchus, dict]:
    """A verified Ophiuchus checkpoint (shipped name or folder) and its card."""
    model, card = load_model(checkpoint, "ophiuchus", VERSION, lambda config: Ophiuchus(OphiuchusConfig.from_dict(config)))
    return model.eval(), card


def batch_chains(chains: list[ResidueChain], length: int) -> ResidueBatch:
    """Pad chains to ``length`` residues (coordinates as given, no centring)."""
    B = len(chains)
    aatype = torch.zeros(B, length, dtype=torch.long)
    coords = torch.zeros(B, length, 14, 3)
    atom_mask = torch.zeros(B, length, 14, dtype=torch.bool)
    for i, c in enumerate(chains):
        n = len(c)
        aatype[i, :n] = torch.from_numpy(c.aatype)
        coords[i, :n] = torch.from_numpy(c.coords)
        atom_mask[i, :n] = torch.from_numpy(c.mask)
    mask = torch.arange(length)[None] < torch.tensor([len(c) for c in chains])[:, None]
    return ResidueBatch(aatype, coords * atom_mask[..., None], atom_mask, mask)


class ProteinAutoencoder:
    """Encode residue chains to latents and decode latents back to chains with every heavy atom."""

    def __init__(self, model: Ophiuchus, card: dict | None = None, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.card = card or {}

    @classmethod
    def from_checkpoint(cls, checkpoint: str, device: str | torch.device = "cpu") -> "ProteinAutoencoder":
        model, card = load_autoencoder(checkpoint)
        return cls(model, card, device)

    @property
    def compression(self) -> int:
        return self.model.compression

    def _batch(self, chains: list[ResidueChain]) -> tuple[ResidueBatch, torch.Tensor]:
        """Batch centred on each chain's Cα mean (returned, to translate decoded chains back)."""
        length = self.model.padded_length(max(len(c) for c in chains))
        batch = batch_chains(chains, length)
        centre = torch.stack([torch.from_numpy(c.coords[:, 1].mean(0)) for c in chains]).float()
        coords = (batch.coords - centre[:, None, None]) * batch.atom_mask[..., None]
        return ResidueBatch(batch.aatype, coords, batch.atom_mask, batch.mask).to(self.device), centre

    @torch.no_grad()
    def encode(self, chains: list[ResidueChain]) -> tuple[Latent, torch.Tensor]:
        """Latents of chains (padded batch) and the centres they were taken about."""
        batch, centre = self._batch(chains)
        return self.model.encode(batch.aatype, batch.coords, batch.atom_mask, batch.mask), centre

    def _residue_mask(self, latent: Latent, templates: list[ResidueChain]) -> torch.Tensor:
        """(B, N) residues of each template within the latent's padded length."""
        length = latent.mask.shape[1] * self.compression
        return torch.arange(length, device=self.device)[None] < torch.tensor([len(t) for t in templates], device=self.device)[:, None]

    @torch.no_grad()
    def decode(
        self, latent: Latent, templates: list[ResidueChain], centre: torch.Tensor | None = None, keep_missing: bool = False
    ) -> list[ResidueChain]:
        """Chains decoded from a latent batch, with the ids and numbering of ``templates`` (one per row).

        ``keep_missing``: atoms the template lacks stay out where the residue type is recovered (the
        decoder was never taught where absent atoms go, so it does not invent them)."""
        decoded = self.model.decode(latent, self._residue_mask(latent, templates))
        aatype = decoded.logits.argmax(-1)
        coords = decoded.coords(aatype).cpu()
        if centre is not None:
            coords = coords + centre[:, None, None].cpu()
        out = []
        for i, t in enumerate(templates):
            n, a = len(t), aatype[i, : len(t)].cpu().numpy()
            mask = SLOT_EXISTS[a].copy()
            if keep_missing:
                mask &= np.where((a == t.aatype)[:, None], t.mask, True)
            out.append(ResidueChain(a, coords[i, :n].numpy().astype(np.float32), mask, t.chain_id, t.residue_numbers, t.insertion_codes))
        return out

    def reconstruct(self, chains: list[ResidueChain]) -> list[ResidueChain]:
        """Encode and decode every chain (back in the input's frame)."""
        latent, centre = self.encode(chains)
        return self.decode(latent, chains, centre, keep_missing=True)

    def interpolate(
        self, start: list[ResidueChain], end: list[ResidueChain], frames: int, path: str = "geodesic",
        refinement: Refinement = Refinement(), on_frame: Callable[[], None] | None = None,
    ) -> list[list[ResidueChain]]:
        """``frames`` structures along a latent path (:mod:`gen3d.samplers.latent_paths`) between two conformations
        of the same chains (already superposed), each latent sterically refined (:mod:`gen3d.samplers.latent_refinement`;
        ``refinement.steps = 0`` decodes the path as it is), decoded in the start's frame. All frames run as one batch."""
        n = len(start)
        latent, centre = self.encode(start + end)
        ends = [Latent(latent.positions[s], latent.features[s], latent.mask[s]) for s in (slice(0, n), slice(n, None))]
        templates = [replace(s, mask=s.mask & e.mask) for s, e in zip(start, end)] * frames
        steps = latent_path(*ends, frames, self.model.config.irreps_latent, path)
        batch = Latent(*(torch.cat([getattr(l, k) for l in steps]) for k in ("positions", "features", "mask")))
        batch = refine_latent(self.model, batch, self._residue_mask(batch, templates), refinement)  # all frames at once
        weights = torch.linspace(0, 1, frames)[:, None, None]
        centres = ((1 - weights) * centre[:n] + weights * centre[n:]).reshape(frames * n, 3)
        chains = self.decode(batch, templates, centres, keep_missing=True)
        out = [chains[k * n : (k + 1) * n] for k in range(frames)]
        for _ in out:
            if on_frame:
                on_frame()
        return out
