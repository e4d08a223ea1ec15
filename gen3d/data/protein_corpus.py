"""A protein fragment dataset: unbroken chain segments of a PDB corpus, split by entry, in one ``.npz``.

The split is a pure function of the entry ID (sha256 of the lower-case ID), so it is stable when
entries are added: ``test`` if the hash fraction is below 0.05, ``valid`` below 0.10, else
``train``. It is saved with the dataset next to the segments.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gen3d.data.protein_chains import ProteinError, ResidueChain, residue_chains
from gen3d.io.atomic import atomic_open
from gen3d.io.errors import InputError

SPLIT_FRACTIONS = {"test": 0.05, "valid": 0.05}
PROTEIN_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".ent.gz", ".cif.gz", ".mmcif.gz")
FORMAT = "gen3d-protein-fragments/v1"


def entry_id(path: str | os.PathLike) -> str:
    """Entry ID of a structure file: its name without structure suffixes (``1abc.pdb.gz`` -> ``1abc``)."""
    name = Path(path).name.lower()
    return re.sub(r"(\.(pdb|ent|cif|mmcif))?(\.gz)?$", "", name)


def split_of(entry: str) -> str:
    """``train`` / ``valid`` / ``test`` for an entry ID, from the hash of the ID alone."""
    digest = hashlib.sha256(entry.lower().encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < SPLIT_FRACTIONS["test"]:
        return "test"
    if u < SPLIT_FRACTIONS["test"] + SPLIT_FRACTIONS["valid"]:
        return "valid"
    return "train"


@dataclass
class FragmentSet:
    """Unbroken segments stored flat: residue arrays plus per-segment offsets, entry, chain, split."""

    aatype: np.ndarray  # (R,) int8
    coords: np.ndarray  # (R, 14, 3) float32
    mask: np.ndarray  # (R, 14) bool
    offsets: np.ndarray  # (S + 1,) int64
    entries: np.ndarray  # (S,) str
    chains: np.ndarray  # (S,) str
    splits: np.ndarray  # (S,) str
    whole: np.ndarray  # (S,) bool: the segment is a complete chain (no break, nothing dropped)
    first_numbers: np.ndarray  # (S,) int64

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.entries)

    def segment(self, i: int) -> ResidueChain:
        a, b = self.offsets[i], self.offsets[i + 1]
        numbers = np.arange(b - a, dtype=np.int64) + self.first_numbers[i]
        return ResidueChain(
            self.aatype[a:b].astype(np.int64), self.coords[a:b], self.mask[a:b], str(self.chains[i]),
            numbers, np.full(b - a, "", dtype=str),
        )

    def indices(self, split: str, min_length: int = 1, max_length: int | None = None, whole: bool = False) -> np.ndarray:
        """Segments of a split, optionally by length and whole-chain only."""
        lengths = self.lengths
        ok = (self.splits == split) & (lengths >= min_length)
        if max_length is not None:
            ok &= lengths <= max_length
        if whole:
            ok &= self.whole
        return np.flatnonzero(ok)


def structure_files(folder: str | os.PathLike) -> list[Path]:
    """Structure files under ``folder`` (recursively), sorted by path."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(folder, "is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(PROTEIN_SUFFIXES))
    if not files:
        raise InputError(folder, "holds no .pdb/.cif files (gzip allowed)")
    return files


def _segments(path: Path, min_length: int, max_length: int) -> list[tuple[ResidueChain, bool]]:
    from gen3d.io.pdb import read_protein

    protein = read_protein(path)
    out = []
    for chain in residue_chains(protein, strict=False):
        numbers = chain.residue_numbers
        full = _is_whole(protein, chain)
        if min_length <= len(chain) <= max_length and bool(np.all(np.diff(numbers) >= 0)):
            out.append((chain, full))
    return out


def _is_whole(protein, chain: ResidueChain) -> bool:
    """The segment holds every standard residue of its chain in the file."""
    in_chain = protein.chain_ids[protein.residue_starts()] == chain.chain_id
    names = protein.residue_names[protein.residue_starts()][in_chain]
    from gen3d.data.residues import canonical

    return int(sum(canonical(n) is not None for n in names)) == len(chain)


def build_fragments(
    files: Iterable[Path], min_length: int = 30, max_length: int = 1000, on_file: Callable[[Path, str], None] | None = None
) -> FragmentSet:
    """Parse every file and keep its unbroken protein segments of ``min_length..max_length`` residues.

    A file that cannot be read is skipped and reported through ``on_file(path, reason)``.
    """
    rows: list[tuple[str, ResidueChain, bool]] = []
    for path in files:
        try:
            for chain, full in _segments(path, min_length, max_length):
                rows.append((entry_id(path), chain, full))
            reason = ""
        except (InputError, ProteinError, ValueError) as err:
            reason = str(err).splitlines()[0]
        if on_file is not None:
            on_file(path, reason)
    if not rows:
        raise InputError("corpus", "no protein segment of the requested lengths")
    lengths = np.array([len(c) for _, c, _ in rows])
    return FragmentSet(
        aatype=np.concatenate([c.aatype for _, c, _ in rows]).astype(np.int8),
        coords=np.concatenate([c.coords for _, c, _ in rows]).astype(np.float32),
        mask=np.concatenate([c.mask for _, c, _ in rows]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        entries=np.array([e for e, _, _ in rows], dtype=str),
        chains=np.array([c.chain_id for _, c, _ in rows], dtype=str),
        splits=np.array([split_of(e) for e, _, _ in rows], dtype=str),
        whole=np.array([w for _, _, w in rows], dtype=bool),
        first_numbers=np.array([int(c.residue_numbers[0]) for _, c, _ in rows], dtype=np.int64),
    )


def save_fragments(path: str | os.PathLike, data: FragmentSet) -> None:
    """Write the dataset atomically as a compressed ``.npz`` (with its split rule)."""
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(
            handle, format=np.array(FORMAT), split_rule=np.array(split_rule()),
            **{k: getattr(data, k) for k in FragmentSet.__dataclass_fields__},
        )


def split_rule() -> str:
    return "sha256(entry id) fraction: test < 0.05 <= valid < 0.10 <= train"


def load_fragments(path: str | os.PathLike) -> FragmentSet:
    """Read a dataset written by :func:`save_fragments` (no pickles; a clear error otherwise)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != FORMAT:
                raise InputError(path, f"is not a {FORMAT} dataset")
            return FragmentSet(**{k: z[k] for k in FragmentSet.__dataclass_fields__})
    except (OSError, KeyError, ValueError) as err:
        raise InputError(path, f"is not a gen3d protein dataset ({str(err).splitlines()[0]})") from None
