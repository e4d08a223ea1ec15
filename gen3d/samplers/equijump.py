"""EquiJump rollouts: batched walkers jump tau ps at a time by integrating the learned interpolant.

``jump`` integrates s from 0 to 1 on a grid that refines towards s = 1: the ODE moves along the
path implied by the predicted endpoint and noise (one network call per step; Heun for drift
models), the SDE by Euler-Maruyama with diffusion eps * gamma(s) and a last step onto the
predicted endpoint. Every walker moves at once, one network call per stage for the whole batch.
The start structure is matched atom by atom to the checkpoint's topology (by residue ordinal
and atom name), so atom order in the input file does not matter but every heavy atom must be there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from gen3d.checkpoints import load_model
from gen3d.models.equijump import VERSION, EquiJumpConfig, Interpolant, JumpNet, build_network
from gen3d.models.equijump.interpolant import centred
from gen3d.samplers.base import ConditionError, Sampler, StartFrame, resolve_device
from gen3d.samplers.covalent_projection import CovalentProjection
from gen3d.samplers.jump_checks import JumpChecks, JumpStats
from gen3d.structures import Protein, Trajectory


MAX_EXTENT = 1000.0  # Å from the centroid: a walker beyond this has diverged


class RolloutError(ValueError):
    """A rollout that cannot go on (non-finite coordinates)."""


@dataclass(frozen=True)
class JumpSettings:
    """How each jump is integrated."""

    mode: str = "ode"  # "ode" or "sde"
    eps: float = 1.0  # SDE diffusion scale (per unit gamma)
    steps: int = 8
    retries: int = 8  # redraws of a jump that inverts a stereocentre or breaks a bond (0: accept every jump)
    project: bool = False  # restore bond lengths and angles after every jump (covalent_projection; the card's mean lengths, else the start's)


def card_settings(
    card: dict, mode: str | None = None, eps: float | None = None, steps: int | None = None, retries: int = 8, project: bool | None = None,
) -> JumpSettings:
    """Jump settings: what the caller gives, else the card's ``sampling`` (the settings its metrics were measured with)."""
    preset = card.get("sampling", {})
    return JumpSettings(
        mode=mode or preset.get("mode", JumpSettings.mode), eps=preset.get("eps", JumpSettings.eps) if eps is None else eps,
        steps=steps or preset.get("steps", JumpSettings.steps), retries=retries,
        project=bool(preset.get("project", JumpSettings.project)) if project is None else project,
    )


def time_grid(steps: int, device, dtype) -> torch.Tensor:
    """s_k = 1 - (1 - k/K)^2: steps shrink towards s = 1, where the noise is small and the geometry is settled."""
    u = torch.linspace(0.0, 1.0, steps + 1, device=device, dtype=dtype)
    return 1 - (1 - u) ** 2


def load_jump_model(checkpoint: str) -> tuple[JumpNet, dict]:
    """A verified EquiJump checkpoint (shipped name or folder) and its card."""
    model, card = load_model(checkpoint, "equijump", VERSION, lambda config: build_network(EquiJumpConfig.from_dict(config)))
    return model.eval(), card


def topology_protein(card: dict, positions: np.ndarray | None = None) -> Protein:
    """The checkpoint's heavy-atom topology as a Protein (chain A, residues numbered from 1)."""
    atoms = card["data"]["topology"]
    n = len(atoms)
    return Protein(
        chain_ids=["A"] * n, residue_numbers=[a[0] + 1 for a in atoms], insertion_codes=[""] * n,
        residue_names=[a[1] for a in atoms], atom_names=[a[2] for a in atoms], elements=[a[3] for a in atoms],
        positions=np.zeros((n, 3)) if positions is None else positions, name=card.get("name", ""),
    )


def match_topology(structure: Protein, card: dict) -> np.ndarray:
    """Heavy-atom positions of ``structure`` in the checkpoint's atom order; ConditionError naming what differs."""
    expected = card["data"]["topology"]
    heavy = structure.elements != "H"
    starts = structure.residue_starts()
    ordinal = np.searchsorted(starts, np.arange(len(structure)), side="right") - 1
    names = list(zip(ordinal[heavy], structure.residue_names[heavy], structure.atom_names[heavy]))
    residues_in = [structure.residue_names[s] for s in starts]
    residues_ck = [r for r in card["data"]["residues"]]
    if residues_in != residues_ck:
        known = set(residues_ck)
        odd = sorted({r for r in residues_in if r not in known})
        if odd:
            raise ConditionError(f"start structure has residues {', '.join(odd)} that the checkpoint does not model ({'-'.join(residues_ck)})")
        raise ConditionError(f"start structure sequence {'-'.join(residues_in)} does not match the checkpoint's {'-'.join(residues_ck)}")
    index = {(int(o), r, a): i for i, (o, r, a) in enumerate(names)}
    missing = [f"{r}{o + 1}:{a}" for o, r, a, _ in expected if (o, r, a) not in index]
    if missing:
        raise ConditionError(f"start structure is missing heavy atoms {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    extra = len(names) - len(expected)
    if extra:
        raise ConditionError(f"start structure has {extra} heavy atoms the checkpoint does not model")
    positions = structure.positions[heavy]
    return positions[[index[(o, r, a)] for o, r, a, _ in expected]]


class DynamicsSampler(Sampler):
    """Walkers started from one frame, advanced ``jumps`` times by tau ps each."""

    conditions = (StartFrame,)

    def __init__(self, model: JumpNet, card: dict, jumps: int = 100,
                 settings: JumpSettings | None = None) -> None:
        """``settings`` None: the card's sampling settings (what its metrics were measured with), else ODE, 8 steps."""
        self.model, self.card, self.jumps = model, card, jumps
        self.settings = card_settings(card) if settings is None else settings
        cfg = model.config
        self.interpolant = Interpolant(cfg.interpolant, cfg.gamma_scale, cfg.base_noise, cfg.prior_scale)
        vocab = {t: i for i, t in enumerate(cfg.vocabulary)}
        atoms = card["data"]["topology"]
        self.tokens = torch.tensor([vocab[f"{a[1]}:{a[2]}"] for a in atoms])
        self.residue_index = torch.tensor([a[0] for a in atoms])
        self.tau_ps = cfg.tau_ps
        self.stats = JumpStats()  # proposal checks of the last rollout

    @classmethod
    def from_checkpoint(cls, checkpoint: str, **kwargs) -> "DynamicsSampler":
        model, card = load_jump_model(checkpoint)
        return cls(model, card, **kwargs)

    @torch.no_grad()
    def jump(self, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One jump of every walker: x0 (W, n, 3) centred -> x1 (W, n, 3) centred."""
        W, n, _ = x0.shape
        device = x0.device
        batch = torch.arange(W, device=device).repeat_interleave(n)
        tokens, residues = self.tokens.to(device).repeat(W), self.residue_index.to(device).repeat(W)
        flat0 = x0.reshape(-1, 3)
        context = self.model.context(flat0, batch, tokens, residues)  # neighbour pairs and/or frames, fixed for the jump
        s_grid = time_grid(self.settings.steps, device, x0.dtype)

        endpoint = self.model.config.parameterization == "endpoint"

        def field(s: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
            """(drift, eta, predicted x1 or None) at time s."""
            out, eta = self.model(tokens, residues, flat0, x, s.expand(W), batch, context)
            out, eta = centred(out, batch, W), centred(eta, batch, W)
            if not endpoint:
                return out, eta, None
            x1 = x + out
            return self.interpolant.drift_from_endpoint(x1, eta, x, s), eta, x1

        x = self.interpolant.base(flat0, batch, W, generator)
        last = self.settings.steps - 1
        interp = self.interpolant
        for k in range(self.settings.steps):
            s, s_next = s_grid[k], s_grid[k + 1]
            h = s_next - s
            b, eta, x1 = field(s, x)
            if self.settings.mode == "sde" and k < last:
                noise = centred(torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype), batch, W)
                eps = self.settings.eps
                x = x + (b - eps * eta) * h + torch.sqrt(2 * eps * interp.gamma(s).clamp_min(0) * h) * noise
            elif x1 is not None:
                # move along the path implied by the predicted ends: x0_hat and x1 fixed, s -> s_next (first order, stable near s = 1)
                x0_hat = (x - s * x1 - interp.gamma(s) * eta) / (1 - s)
                x = (1 - s_next) * x0_hat + s_next * x1 + interp.gamma(s_next) * eta
            else:
                b_next = field(s_next, x + h * b)[0]
                x = x + 0.5 * h * (b + b_next)
        return centred(x, batch, W).view(W, n, 3)

    def rollout(
        self, start: np.ndarray, walkers: int, jumps: int, *, seed: int = 0, device: str | torch.device = "cpu",
        on_jump: Callable[[int], None] | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield the (walkers, n, 3) frame (Å) after each jump; the start frame is not yielded."""
        device = resolve_device(device)
        self.model.to(device)
        generator = torch.Generator(device=device).manual_seed(seed)
        x = torch.as_tensor(start, dtype=torch.float32, device=device)
        x = (x - x.mean(0)).expand(walkers, -1, -1).contiguous()
        checks = JumpChecks.for_start(start, self.card["data"]["topology"]) if self.settings.retries else None
        self.stats = checks.stats if checks else JumpStats()
        project = self.projection(start) if self.settings.project else None
        for k in range(jumps):
            x = self._advance(x, generator, checks, k, project)
            if float(x.abs().max()) > MAX_EXTENT:
                raise RolloutError(f"coordinates diverged beyond {MAX_EXTENT:.0f} Å after jump {k + 1}; frames up to jump {k} were kept")
            if on_jump:
                on_jump(k + 1)
            yield x.cpu().numpy().astype(np.float64)

    @property
    def covalent_lengths(self) -> str:
        """What the projection restores: the card's training means, else the start frame's own lengths."""
        return "training mean" if "covalent_geometry" in self.card["data"] else "start frame"

    def projection(self, start: np.ndarray) -> CovalentProjection:
        """Onto the training frames' mean covalent geometry (in the card), else onto the start frame's."""
        if self.covalent_lengths == "start frame":
            return CovalentProjection.for_start(start)
        return CovalentProjection.for_geometry(self.card["data"]["covalent_geometry"])

    def _advance(
        self, x: torch.Tensor, generator: torch.Generator, checks: JumpChecks | None, k: int, project: CovalentProjection | None,
    ) -> torch.Tensor:
        """One jump of every walker (then the projection, if any); proposals failing ``checks`` are redrawn, then the walker stays."""
        propose = (lambda y: self.jump(y, generator)) if project is None else (lambda y: project(self.jump(y, generator)))
        new = self._finite(propose(x), k)
        if checks is None:
            return new
        todo = torch.nonzero(~checks.accept(x, new)).flatten()
        for _ in range(self.settings.retries):
            if not len(todo):
                break
            retry = self._finite(propose(x[todo]), k)
            ok = checks.accept(x[todo], retry)
            new[todo[ok]] = retry[ok]
            todo = todo[~ok]
        new[todo] = x[todo]
        checks.stats.stayed += len(todo)
        return new

    @staticmethod
    def _finite(x: torch.Tensor, k: int) -> torch.Tensor:
        if not torch.isfinite(x).all():
            raise RolloutError(f"non-finite coordinates after jump {k + 1}; frames up to jump {k} were kept")
        return x

    def sample(self, num: int, *, seed: int = 0, batch_size: int = 64, device: str | torch.device = "cpu", condition=None) -> Iterator[Trajectory]:
        """``num`` walkers from ``StartFrame``, ``batch_size`` at a time; each a Trajectory of ``jumps`` + 1 frames."""
        self.check_condition(condition)
        if condition is None:
            raise ConditionError("dynamics needs a StartFrame condition (the structure to start from)")
        start = match_topology(condition.structure, self.card)
        topology = topology_protein(self.card)
        times = np.arange(self.jumps + 1) * self.tau_ps
        for first in range(0, num, batch_size):
            count = min(batch_size, num - first)
            frames = [np.broadcast_to(start - start.mean(0), (count, *start.shape))]
            frames += list(self.rollout(start, count, self.jumps, seed=seed + first, device=device))
            stacked = np.stack(frames, axis=1)
            for w in range(count):
                yield Trajectory(topology, stacked[w], times)
