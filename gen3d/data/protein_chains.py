"""``Protein`` -> residue arrays in the 14-slot layout, cut into contiguous segments at chain breaks.

Hydrogens are dropped, modified residues mapped to their parent, missing atoms masked. Strict
mode (a user's input structure) turns a non-standard residue or a residue without backbone
into a :class:`ProteinError`; corpus mode drops them and cuts the chain there instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen3d.data.residues import NUM_SLOTS, RESIDUE_INDEX, RESIDUES, SLOT_NAMES, canonical, sequence_string
from gen3d.structures import Protein

PEPTIDE_BOND_MAX = 2.0  # Å; a longer C(i)-N(i+1) distance is a chain break
BACKBONE_REQUIRED = ("N", "CA", "C")
TERMINAL_NAMES = {"OT1": "O", "OT2": "OXT", "O1": "O", "O2": "OXT"}  # CHARMM / GROMACS C-terminal oxygens
IGNORED = frozenset({"HOH", "WAT", "DOD", "SO4", "PO4", "GOL", "EDO", "ACE", "NH2", "NME"})


class ProteinError(ValueError):
    """A structure that cannot be read as protein residues (one-line reason)."""


@dataclass
class ResidueChain:
    """Consecutive residues of one chain: types, 14-slot coordinates (Å) and masks, numbering."""

    aatype: np.ndarray  # (L,) int64, index into RESIDUES
    coords: np.ndarray  # (L, 14, 3) float32
    mask: np.ndarray  # (L, 14) bool
    chain_id: str
    residue_numbers: np.ndarray  # (L,) int64
    insertion_codes: np.ndarray  # (L,) str

    def __len__(self) -> int:
        return len(self.aatype)

    @property
    def sequence(self) -> str:
        return sequence_string(self.aatype)

    def slice(self, start: int, stop: int) -> "ResidueChain":
        return ResidueChain(
            self.aatype[start:stop], self.coords[start:stop], self.mask[start:stop], self.chain_id,
            self.residue_numbers[start:stop], self.insertion_codes[start:stop],
        )

    def breaks(self) -> np.ndarray:
        """Indices i where the C(i)-N(i+1) peptide bond is missing or too long."""
        c, n = self.coords[:-1, 2], self.coords[1:, 0]
        ok = self.mask[:-1, 2] & self.mask[1:, 0] & (np.linalg.norm(c - n, axis=-1) <= PEPTIDE_BOND_MAX)
        return np.flatnonzero(~ok)


def _residue_slots(names: np.ndarray, xyz: np.ndarray, elements: np.ndarray, resname: str, renames: dict) -> tuple:
    coords = np.zeros((NUM_SLOTS, 3), dtype=np.float32)
    mask = np.zeros(NUM_SLOTS, dtype=bool)
    slots = SLOT_NAMES[resname]
    for name, pos, element in zip(names, xyz, elements):
        if element in ("H", "D"):
            continue
        name = renames.get(name, TERMINAL_NAMES.get(name, name))
        if name in slots:
            k = slots.index(name)
            if not mask[k]:
                coords[k], mask[k] = pos, True
    return coords, mask


def _describe(chain: str, number: int, icode: str) -> str:
    return f"chain {chain or '_'} residue {number}{icode}"


def residue_chains(protein: Protein, strict: bool = True) -> list[ResidueChain]:
    """Protein chains of ``protein`` as residue arrays, one entry per chain (strict) or per unbroken segment."""
    starts = protein.residue_starts()
    ends = np.append(starts[1:], len(protein))
    rows: dict[str, list] = {}
    for s, e in zip(starts, ends):
        chain, number, icode = protein.chain_ids[s], int(protein.residue_numbers[s]), protein.insertion_codes[s]
        raw = protein.residue_names[s]
        mapped = canonical(raw)
        names = protein.atom_names[s:e]
        has_backbone = all(n in names for n in BACKBONE_REQUIRED)
        if mapped is None:
            if strict and has_backbone and raw not in IGNORED:
                raise ProteinError(f"non-standard residue {raw} at {_describe(chain, number, icode)}")
            rows.setdefault(chain, []).append(None)  # a ligand or unknown residue: a cut
            continue
        resname, renames = mapped
        coords, mask = _residue_slots(names, protein.positions[s:e], protein.elements[s:e], resname, renames)
        if not mask[:3].all():
            if strict:
                missing = [a for a, m in zip(BACKBONE_REQUIRED, mask[:3]) if not m]
                raise ProteinError(f"{_describe(chain, number, icode)} ({raw}) has no backbone {'/'.join(missing)} atom")
            rows.setdefault(chain, []).append(None)
            continue
        rows.setdefault(chain, []).append((RESIDUE_INDEX[resname], coords, mask, number, icode))
    chains = [_chain(cid, rs) for cid, rs in rows.items()]
    chains = [c for c in chains if c is not None]
    if strict:
        if not chains:
            raise ProteinError("no protein chain (no standard amino-acid residue with backbone atoms)")
        return chains
    return [seg for c in chains for seg in split_at_breaks(c)]


def _chain(chain_id: str, rows: list) -> ResidueChain | None:
    """Stack residue rows; dropped (None) residues leave a C-N gap that :func:`split_at_breaks` cuts at."""
    kept = [r for r in rows if r is not None]
    if not kept:
        return None
    aatype = np.array([r[0] for r in kept], dtype=np.int64)
    coords = np.stack([r[1] for r in kept]).astype(np.float32)
    mask = np.stack([r[2] for r in kept])
    numbers = np.array([r[3] for r in kept], dtype=np.int64)
    icodes = np.array([r[4] for r in kept], dtype=str)
    return ResidueChain(aatype, coords, mask, chain_id, numbers, icodes)


def split_at_breaks(chain: ResidueChain) -> list[ResidueChain]:
    """Unbroken segments of ``chain`` (a break: missing or over-long C-N peptide bond)."""
    edges = np.concatenate([[0], chain.breaks() + 1, [len(chain)]])
    return [chain.slice(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def protein_from_chains(chains: list[ResidueChain], name: str = "", terminal_oxygens: bool = True) -> Protein:
    """Flat ``Protein`` with standard residue and atom names from residue arrays (masked atoms omitted);
    with ``terminal_oxygens``, each chain's last residue gets an OXT so force fields accept the C-terminus."""
    cols: dict[str, list] = {k: [] for k in ("chain", "num", "icode", "res", "atom", "el")}
    positions = []
    for c in chains:
        for i in range(len(c)):
            res = RESIDUES[int(c.aatype[i])]
            for k, atom in enumerate(SLOT_NAMES[res]):
                if not c.mask[i, k]:
                    continue
                cols["chain"].append(c.chain_id)
                cols["num"].append(int(c.residue_numbers[i]))
                cols["icode"].append(str(c.insertion_codes[i]))
                cols["res"].append(res)
                cols["atom"].append(atom)
                cols["el"].append(atom[0])
                positions.append(c.coords[i, k])
    protein = Protein(
        cols["chain"], cols["num"], cols["icode"], cols["res"], cols["atom"], cols["el"],
        np.array(positions, dtype=np.float64).reshape(-1, 3), name=name,
    )
    return with_terminal_oxygens(protein) if terminal_oxygens else protein


def with_terminal_oxygens(protein: Protein) -> Protein:
    """Add OXT to the last residue of each chain: C + 1.25 Å along the mirror image of C->O about the CA-C axis."""
    rows = []
    for chain in dict.fromkeys(protein.chain_ids):
        idx = np.flatnonzero(protein.chain_ids == chain)
        last = idx[protein.residue_numbers[idx] == protein.residue_numbers[idx[-1]]]
        names = list(protein.atom_names[last])
        if "OXT" in names or not {"CA", "C", "O"} <= set(names):
            continue
        ca, c, o = (protein.positions[last[names.index(a)]] for a in ("CA", "C", "O"))
        u = (c - ca) / np.linalg.norm(c - ca)
        w = (o - c) / np.linalg.norm(o - c)
        mirrored = 2 * (w @ u) * u - w
        rows.append((last[-1], c + 1.25 * mirrored / np.linalg.norm(mirrored)))
    if not rows:
        return protein
    order = np.arange(len(protein)).tolist()
    positions = list(protein.positions)
    cols = {k: list(getattr(protein, k)) for k in ("chain_ids", "residue_numbers", "insertion_codes", "residue_names", "atom_names", "elements")}
    for after, xyz in sorted(rows, key=lambda r: -r[0]):
        at = order.index(after) + 1
        for k in cols:
            cols[k].insert(at, "OXT" if k == "atom_names" else "O" if k == "elements" else cols[k][after])
        positions.insert(at, xyz)
        order.insert(at, -1)
    return Protein(**cols, positions=np.array(positions), name=protein.name)

