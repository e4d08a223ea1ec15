"""Symphony sampler: grow a batch of molecules atom by atom, all in one vectorised step loop.

Every step runs the network once on all unfinished fragments, draws (focus, element) or STOP
from the joint distribution, then the new atom's position: a mixture component, a radius and
a direction on the sphere grid, refined on a small patch around the chosen grid point.
Finished molecules leave the batch immediately and are yielded, so they cost nothing further.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from gen3d.checkpoints import load_model
from gen3d.data.fragments import COVALENT_RADIUS
from gen3d.models.symphony import Symphony, SymphonyConfig
from gen3d.models.symphony.config import VERSION
from gen3d.models.symphony.sphere import sh, tangent_basis, tangent_offsets
from gen3d.samplers.base import Condition, ConditionError, Sampler, StartFragment, resolve_device
from gen3d.structures import Molecule

DEFAULT_TEMPERATURE = 0.8  # chosen on seed 1 (300 molecules): see the model card
DEFAULT_POSITION_TEMPERATURE = 0.4  # of the position head (component, radius, direction); chosen on seeds 1 and 2
DEFAULT_VALENCE_MASK = True
OVERLAP = 0.7  # Å; with the valence mask, no new atom closer than this to any other atom
CONTACT_TOLERANCE = 1.3  # valence mask: atoms closer than 1.3 (r_i + r_j) count as bonded, as in RDKit's xyz2mol
LONG_BOND = 1.2  # valence mask: a new heavy atom never lands between 1.2 and 1.3 (r_i + r_j) from another atom
MIN_CONTACT = 0.75  # valence mask: nor closer than 0.75 (r_i + r_j), PoseBusters' lower bond-length tolerance
COVALENT_RADIUS_T = torch.from_numpy(COVALENT_RADIUS)
MAX_VALENCE = torch.zeros(119, dtype=torch.long).index_put_(
    (torch.tensor([1, 6, 7, 8, 9]),), torch.tensor([1, 4, 3, 2, 1])
)


def free_valence(species: torch.Tensor, pos: torch.Tensor, present: torch.Tensor, elements: torch.Tensor) -> torch.Tensor:
    """``(A, M)`` valence left on each atom: its maximum valence minus its covalent contacts (RDKit's xyz2mol
    rule, so what the mask sees is what validity checks see); negative when over-filled, 0 for absent atoms."""
    z = elements.to(species.device)[species]
    radius = COVALENT_RADIUS_T.to(pos.device)[z]
    limit = CONTACT_TOLERANCE * (radius[:, :, None] + radius[:, None, :])
    close = (torch.cdist(pos, pos) < limit) & present[:, :, None] & present[:, None, :]
    close &= ~torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)
    return (MAX_VALENCE.to(pos.device)[z] - close.sum(-1)) * present


def saturated_atoms(species: torch.Tensor, pos: torch.Tensor, present: torch.Tensor, elements: torch.Tensor) -> torch.Tensor:
    """``(A, M)`` mask of present atoms with no valence left (they cannot be a focus under the valence mask)."""
    return (free_valence(species, pos, present, elements) <= 0) & present


def _mask_unless_all(logits: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
    """Set blocked entries to -inf, except in rows where every entry is blocked."""
    keep = ~blocked.all(-1, keepdim=True)
    return logits.masked_fill(blocked & keep, float("-inf"))


def _gumbel_argmax(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One categorical draw per row of ``logits`` (Gumbel-max, reproducible with ``generator``)."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-12, 1 - 1e-7)
    return (logits - torch.log(-torch.log(u))).argmax(-1)


class SymphonySampler(Sampler):
    """Unconditional or fragment-conditioned molecule generation from a :class:`Symphony` model."""

    conditions = (StartFragment,)

    def __init__(
        self,
        model: Symphony,
        temperature: float = DEFAULT_TEMPERATURE,
        valence_mask: bool = DEFAULT_VALENCE_MASK,
        position_temperature: float = DEFAULT_POSITION_TEMPERATURE,
    ) -> None:
        if temperature <= 0 or position_temperature <= 0:
            raise ValueError("temperatures must be positive")
        self.model = model.eval()
        self.temperature = temperature
        self.position_temperature = position_temperature
        self.valence_mask = valence_mask
        c = model.config
        self.elements = torch.tensor(c.elements)
        self.patch = tangent_offsets(2.0 / c.sphere_points**0.5, rings=3)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str,
        temperature: float = DEFAULT_TEMPERATURE,
        valence_mask: bool = DEFAULT_VALENCE_MASK,
        position_temperature: float = DEFAULT_POSITION_TEMPERATURE,
    ) -> "SymphonySampler":
        """Load a verified Symphony checkpoint (shipped name or folder)."""
        model, card = load_model(checkpoint, "symphony", VERSION, lambda config: Symphony(SymphonyConfig.from_dict(config)))
        sampler = cls(model, temperature, valence_mask, position_temperature)
        sampler.card = card
        return sampler

    # ------------------------------------------------------------------ public API
    @torch.no_grad()
    def sample(
        self,
        num: int,
        *,
        seed: int = 0,
        batch_size: int = 64,
        device: str | torch.device = "cpu",
        condition: Condition | None = None,
    ) -> Iterator[Molecule]:
        self.check_condition(condition)
        device = resolve_device(device)
        self.model.to(device)
        generator = torch.Generator(device=device).manual_seed(seed)
        start = self._start_fragment(condition)
        made = 0
        while made < num:
            size = min(batch_size, num - made)
            for index, mol in self._sample_batch(size, generator, device, start):
                mol.name = f"gen3d-symphony-{made + index}"
                yield mol
            made += size

    # ------------------------------------------------------------------ internals
    def _start_fragment(self, condition: Condition | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        if condition is None:
            return None
        mol = condition.molecule
        lookup = {int(z): i for i, z in enumerate(self.elements)}
        unknown = sorted({int(z) for z in mol.numbers} - set(lookup))
        if len(mol) == 0 or unknown:
            raise ConditionError(f"start fragment must be non-empty with elements Z in {sorted(lookup)}; got {unknown}")
        if len(mol) >= self.model.config.max_atoms:
            raise ConditionError(f"start fragment has {len(mol)} atoms; the model grows at most {self.model.config.max_atoms}")
        species = torch.tensor([lookup[int(z)] for z in mol.numbers])
        return species, torch.as_tensor(mol.positions, dtype=torch.float32)

    def _sample_batch(
        self, size: int, generator: torch.Generator, device: torch.device, start
    ) -> Iterator[tuple[int, Molecule]]:
        model, T, M = self.model, self.temperature, self.model.config.max_atoms
        species = torch.zeros(size, M, dtype=torch.long, device=device)
        pos = torch.zeros(size, M, 3, device=device)
        if start is None:
            first = model.first_element_logits.expand(size, -1) / T
            species[:, 0] = _gumbel_argmax(first, generator)
            count = torch.ones(size, dtype=torch.long, device=device)
        else:
            n0 = len(start[0])
            species[:, :n0], pos[:, :n0] = start[0].to(device), start[1].to(device)
            count = torch.full((size,), n0, dtype=torch.long, device=device)
        active = torch.arange(size, device=device)
        while len(active):
            stop = self._step(active, species, pos, count, generator)
            full = count[active] >= M
            for b in active[stop | full].tolist():
                yield b, self._molecule(species[b], pos[b], int(count[b]), truncated=bool(count[b] >= M))
            active = active[~(stop | full)]

    def _step(self, active, species, pos, count, generator) -> torch.Tensor:
        """Add one atom to every active molecule (or stop it); returns the stop mask."""
        model, T, E = self.model, self.temperature, self.model.num_elements
        A = len(active)
        M = int(count[active].max())  # columns beyond the largest molecule are empty
        present = torch.arange(M, device=pos.device)[None, :] < count[active, None]  # (A, M)
        sub_species, sub_pos = species[active, :M], pos[active, :M]
        flat_species, flat_pos = sub_species[present], sub_pos[present]
        batch = torch.arange(A, device=pos.device)[:, None].expand(A, M)[present]
        x = model.features(flat_species, flat_pos, batch)
        node_lp, stop_lp = model.focus_log_probs(x, batch, A)
        table = torch.full((A, M, E), float("-inf"), device=pos.device)
        table[present] = node_lp
        saturated = None
        if self.valence_mask:
            free = free_valence(sub_species, sub_pos, present, self.elements)
            saturated = (free <= 0) & present
            table[saturated] = float("-inf")
            # STOP only when the free valences can pair up into bonds (an odd total leaves a radical)
            radical = free.clamp_min(0).sum(-1) % 2 == 1
            can_grow = torch.isfinite(table.view(A, -1)).any(-1)
            stop_lp = stop_lp.masked_fill(radical & can_grow, float("-inf"))
        choice = _gumbel_argmax(torch.cat([table.view(A, M * E), stop_lp[:, None]], -1) / T, generator)
        stop = choice == M * E
        grow = (~stop).nonzero(as_tuple=True)[0]
        if len(grow):
            focus, element = choice[grow] // E, choice[grow] % E
            offsets = torch.cumsum(count[active], 0) - count[active]
            focus_all = torch.zeros(A, dtype=torch.long, device=pos.device)
            element_all = torch.zeros(A, dtype=torch.long, device=pos.device)
            focus_all[grow], element_all[grow] = focus + offsets[grow], element
            dist = model.position_distribution(x, flat_pos, batch, focus_all, element_all)[grow]
            rows = active[grow]
            blocker = None
            if saturated is not None:
                blocker = self._blocker(sub_pos[grow], present[grow], sub_species[grow], saturated[grow], focus, element)
            offset = self._sample_offset(dist, generator, blocker)
            new = count[rows]
            pos[rows, new] = pos[rows, focus] + offset
            species[rows, new] = element
            count[rows] += 1
        return stop

    def _blocker(self, pos, present, species, saturated, focus, element):
        """For the valence mask: ``(radius (G,), directions (G|1, P, 3)) -> (G, P)``, True where a new atom
        at ``focus + radius * direction`` would bond to a full atom, a new H would bond to anything but its
        focus, a new heavy atom would sit at an ambiguous distance from another atom (a stretched bond that
        xyz2mol would still read as one: LONG_BOND to CONTACT_TOLERANCE times the sum of covalent radii),
        or any new atom would come closer than MIN_CONTACT times that sum (or OVERLAP) to another atom.

        Each atom j blocks spherical caps: ``|f + r u - x_j| < L_j`` iff ``u . n_j > (r^2 + d_j^2 - L_j^2) / (2 r d_j)``
        with ``n_j`` the unit vector from the focus to ``x_j`` at distance ``d_j``, so each test is one matmul.
        """
        rows = torch.arange(len(focus), device=pos.device)
        rel = pos - pos[rows, focus][:, None]  # (G, M, 3)
        d = rel.norm(dim=-1).clamp_min(1e-6)
        unit = rel / d[..., None]
        z_new = self.elements.to(pos.device)[element]
        z_old = self.elements.to(pos.device)[species]
        radius = COVALENT_RADIUS_T.to(pos.device)
        pair = radius[z_new][:, None] + radius[z_old]  # (G, M)
        others = present.clone()
        others[rows, focus] = False  # absent atoms and the focus block nothing
        forbidden = others & (saturated | (z_new == 1)[:, None])  # atoms the new one may not bond to
        zero = torch.zeros_like(pair)
        inner = torch.where(others, (MIN_CONTACT * pair).clamp_min(OVERLAP), zero)
        outer = torch.where(others, CONTACT_TOLERANCE * pair, zero)
        hollow = torch.where(others & ~forbidden, LONG_BOND * pair, zero)  # where bonding is allowed: below it

        def caps(r: torch.Tensor, cosines: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
            threshold = (r[:, None] ** 2 + d**2 - reach**2) / (2 * r[:, None] * d)  # (G, M)
            threshold = torch.where(reach > 0, threshold, torch.full_like(threshold, 2.0))
            return cosines > threshold[:, None, :]

        def blocked(r: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
            cosines = directions.expand(len(r), -1, -1) @ unit.transpose(1, 2)  # (G, P, M)
            shell = caps(r, cosines, outer) & ~caps(r, cosines, hollow)
            return (caps(r, cosines, inner) | shell).any(-1)

        return blocked

    def _sample_offset(self, dist, generator, blocker=None) -> torch.Tensor:
        """Draw component, radius and direction; refine the direction on a local patch.

        ``blocker`` (valence mask) removes directions that would over-fill a valence, unless it
        would remove them all.
        """
        model, T, c = self.model, self.position_temperature, self.model.config
        G = len(dist.mix)
        rows = torch.arange(G, device=dist.mix.device)
        mix = (dist.mix / T).log_softmax(-1)
        k = _gumbel_argmax(mix, generator)
        radial = dist.radial[rows, k] / T + model.log_radial_cell
        r_index = _gumbel_argmax(radial, generator)
        dr = (c.max_radius - c.min_radius) / (c.num_radii - 1)
        jitter = (torch.rand(G, generator=generator, device=radial.device) - 0.5) * dr
        r = (model.radii[r_index] + jitter).clamp(c.min_radius, c.max_radius)
        coeffs = dist.angular[rows, k]  # (G, (L+1)^2)
        sphere = coeffs @ model.grid_sh.T / T
        if blocker is not None:
            sphere = _mask_unless_all(sphere, blocker(r, model.grid[None]))
        u0 = model.grid[_gumbel_argmax(sphere, generator)]
        e1, e2 = tangent_basis(u0)
        patch = self.patch.to(u0.device)
        cand = u0[:, None] + patch[None, :, :1] * e1[:, None] + patch[None, :, 1:] * e2[:, None]
        cand = torch.nn.functional.normalize(cand, dim=-1)
        local = (sh(c.position_lmax, cand) * coeffs[:, None]).sum(-1) / T
        if blocker is not None:
            local = _mask_unless_all(local, blocker(r, cand))
        u = cand[rows, _gumbel_argmax(local, generator)]
        return r[:, None] * u

    def _molecule(self, species: torch.Tensor, pos: torch.Tensor, n: int, truncated: bool) -> Molecule:
        numbers = self.elements[species[:n].cpu()].numpy()
        xyz = pos[:n].double().cpu().numpy()
        mol = Molecule(numbers, xyz - xyz.mean(0))
        mol.properties["gen3d_truncated"] = int(truncated)
        return mol
