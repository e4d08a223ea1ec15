"""PDB and mmCIF files (optionally .gz) through Biopython; multi-model PDB files as trajectories."""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
from Bio.PDB import MMCIFIO, PDBIO, MMCIFParser, PDBParser
from Bio.PDB.Structure import Structure

from gen3d.io.errors import InputError, atomic_output, base_suffix, parse_coordinate, read_text, write_text
from gen3d.structures.biopython import POLYMER_NAMES, protein_from_structure, protein_to_structure
from gen3d.structures.protein import Protein
from gen3d.structures.rdkit import atomic_number
from gen3d.structures.trajectory import Trajectory

FORMATS = {".pdb": "pdb", ".ent": "pdb", ".cif": "cif", ".mmcif": "cif"}
ATOM_RECORDS = ("ATOM  ", "HETATM")
TIME_REMARK = re.compile(r"^REMARK\s+1\s+TIME_PS\s+(\S+)")
COORDINATE_RANGE = (-999.9995, 9999.9995)  # what fits PDB's %8.3f columns


def protein_format(path: str | os.PathLike) -> str:
    """``"pdb"`` or ``"cif"`` from the name of ``path`` (through ``.gz``); ``InputError`` otherwise."""
    suffix = base_suffix(path)
    if suffix not in FORMATS:
        raise InputError(path, f"unknown structure format {suffix or '(no extension)'!r}; use .pdb or .cif (+ .gz)")
    return FORMATS[suffix]


def _structure_name(path: str | os.PathLike) -> str:
    """The file name without its format and ``.gz`` suffixes (``1abc.cif.gz`` -> ``1abc``)."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem


# ----------------------------------------------------------------------------------------------- reading


def _scan_pdb_atoms(lines: list[str], path: str | os.PathLike) -> tuple[dict[int, int], set[int]]:
    """Check every ATOM/HETATM line's coordinates and element; returns serial -> first line number,
    and the serials of atoms without an element column."""
    serial_lines: dict[int, int] = {}
    blank: set[int] = set()
    seen = False
    for number, line in enumerate(lines, 1):
        if line[:6] not in ATOM_RECORDS:
            continue
        seen = True
        if len(line) < 54:
            raise InputError(path, f"truncated {line[:6].strip()} record (no room for x, y, z)", number)
        for column in (line[30:38], line[38:46], line[46:54]):
            parse_coordinate(column, path, number)
        element = line[76:78].strip()
        if element:
            try:
                atomic_number(element)
            except KeyError:
                raise InputError(path, f"unknown element {element!r}", number) from None
        try:
            serial_lines.setdefault(int(line[6:11]), number)
            if not element:
                blank.add(int(line[6:11]))
        except ValueError:
            pass
    if not seen:
        raise InputError(path, "no atoms (no ATOM or HETATM records)")
    return serial_lines, blank


def _check_cif_elements(parser: MMCIFParser, path: str | os.PathLike) -> None:
    """Reject ``_atom_site.type_symbol`` values that are no element (Biopython would guess silently)."""
    table = getattr(parser, "_mmcif_dict", None) or {}
    symbols = table.get("_atom_site.type_symbol", [])
    ids = table.get("_atom_site.id", [])
    for k, symbol in enumerate(symbols):
        if symbol in ("?", "."):
            continue
        try:
            atomic_number(symbol)
        except KeyError:
            atom = ids[k] if k < len(ids) else k + 1
            raise InputError(path, f"atom {atom}: unknown element {symbol!r}") from None


def _parse_structure(text: str, path: str | os.PathLike) -> Structure:
    """Parse PDB or mmCIF ``text`` with Biopython; every failure or empty result is an ``InputError``."""
    fmt = protein_format(path)
    serial_lines: dict[int, int] = {}
    blank: set[int] = set()
    if fmt == "pdb":
        serial_lines, blank = _scan_pdb_atoms(text.split("\n"), path)
        parser: PDBParser | MMCIFParser = PDBParser(QUIET=True)
    else:
        parser = MMCIFParser(QUIET=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structure = parser.get_structure(_structure_name(path), io.StringIO(text))
        except KeyError as err:  # mmCIF without a mandatory _atom_site column
            raise InputError(path, f"cannot parse as {fmt.upper()}: missing field {err.args[0]!r}") from None
        except Exception as err:  # Biopython raises many kinds on malformed files
            raise InputError(path, f"cannot parse as {fmt.upper()}: {err or type(err).__name__}") from None
    if fmt == "cif":
        _check_cif_elements(parser, path)
    if not any(True for _ in structure.get_atoms()):
        raise InputError(path, "no atoms")
    for atom in structure.get_atoms():
        if atom.get_serial_number() in blank and _is_polymer(atom.get_parent()):
            atom.element = _element_from_name(atom.get_name()) or atom.element  # Biopython reads CA as calcium
        if not _known_element(atom.element or ""):
            guess = _element_from_name(atom.get_name())
            if guess is None:
                line = serial_lines.get(atom.get_serial_number())
                raise InputError(path, f"cannot tell the element of atom {atom.get_name()!r}", line) from None
            atom.element = guess
    return structure


def _is_polymer(residue) -> bool:
    """A known polymer residue, or any residue with an amino-acid backbone (N, CA, C), e.g. CHARMM's HSD."""
    return residue.get_resname().strip() in POLYMER_NAMES or all(name in residue for name in ("N", "CA", "C"))


def _known_element(symbol: str) -> bool:
    try:
        atomic_number(symbol)
        return True
    except KeyError:
        return False


def _element_from_name(name: str) -> str | None:
    """Element of a PDB atom without an element column, from the first letter of its name (``HT1`` -> H),
    as CHARMM/NAMD-written files need; None when that letter is no element either."""
    letters = "".join(ch for ch in name.strip() if ch.isalpha())
    if letters and letters[0].upper() in ("H", "C", "N", "O", "S", "P"):
        return letters[0].upper()
    return None


def read_protein(path: str | os.PathLike, model_index: int = 0) -> Protein:
    """One model of a PDB or mmCIF file (optionally gzipped): all atoms but waters, first altloc."""
    structure = _parse_structure(read_text(path), path)
    if not -len(structure) <= model_index < len(structure):
        raise InputError(path, f"has {len(structure)} models; there is no model {model_index}")
    protein = protein_from_structure(structure, model_index)
    if len(protein) == 0:
        raise InputError(path, f"model {model_index} has no atoms besides water")
    return protein


def _remark_times(text: str, path: str | os.PathLike) -> list[float]:
    """Frame times from ``REMARK   1 TIME_PS <t>`` lines, in file order."""
    times = []
    for number, line in enumerate(text.split("\n"), 1):
        match = TIME_REMARK.match(line)
        if match:
            try:
                times.append(float(match.group(1)))
            except ValueError:
                raise InputError(path, f"non-numeric time {match.group(1)!r}", number) from None
    return times


def read_trajectory(path: str | os.PathLike, dt_ps: float = 1.0) -> Trajectory:
    """Every model of a PDB/mmCIF file as one frame; times from TIME_PS remarks, else ``index * dt_ps``."""
    text = read_text(path)
    structure = _parse_structure(text, path)
    topology = protein_from_structure(structure, 0)
    if len(topology) == 0:
        raise InputError(path, "model 1 has no atoms besides water")
    keys = ("chain_ids", "residue_numbers", "insertion_codes", "residue_names", "atom_names")
    frames = [topology.positions]
    for k in range(1, len(structure)):
        model = protein_from_structure(structure, k)
        if len(model) != len(topology):
            raise InputError(path, f"model {k + 1} has {len(model)} atoms but model 1 has {len(topology)}")
        for key in keys:
            differ = np.flatnonzero(getattr(model, key) != getattr(topology, key))
            if len(differ):
                i = int(differ[0])
                found, expected = getattr(model, key)[i].item(), getattr(topology, key)[i].item()
                reason = f"model {k + 1}, atom {i + 1}: {key[:-1]} {found!r} differs from model 1 ({expected!r})"
                raise InputError(path, reason)
        frames.append(model.positions)
    times = _remark_times(text, path)
    if not times:
        times = [k * dt_ps for k in range(len(frames))]
    elif len(times) != len(frames):
        raise InputError(path, f"{len(times)} TIME_PS remarks for {len(frames)} models")
    return Trajectory(topology=topology, frames=np.stack(frames), times=np.asarray(times, dtype=np.float64))


# ----------------------------------------------------------------------------------------------- writing


def _check_pdb_range(path: str | os.PathLike, positions: np.ndarray) -> None:
    """PDB's fixed columns hold -999.999 .. 9999.999 Å; beyond that the file would be corrupt."""
    low, high = COORDINATE_RANGE
    if positions.size and not (positions.min() > low and positions.max() < high):
        raise InputError(path, "coordinates outside -999.999..9999.999 Å do not fit a PDB file; write .cif instead")


def _pdb_text(path: str | os.PathLike, structure: Structure, write_end: bool = True) -> str:
    """PDB text of ``structure`` with atom serial numbers = position in the ``Protein`` + 1."""
    out = io.StringIO()
    writer = PDBIO()
    writer.set_structure(structure)
    try:
        writer.save(out, write_end=write_end, preserve_atom_numbering=True)
    except Exception as err:  # PDBIOException: chain ids, residue numbers or elements PDB cannot hold
        raise InputError(path, f"cannot be written as PDB: {err}") from None
    return out.getvalue()


def _cif_text(structure: Structure) -> str:
    """mmCIF text of ``structure`` (data block named after the structure, spaces replaced)."""
    structure.id = "_".join(str(structure.id).split()) or "protein"
    out = io.StringIO()
    writer = MMCIFIO()
    writer.set_structure(structure)
    writer.save(out)
    return out.getvalue()


def write_protein(path: str | os.PathLike, protein: Protein) -> None:
    """Write ``protein`` as PDB or mmCIF by extension (gzipped for ``.gz``), atomically."""
    fmt = protein_format(path)
    structure = protein_to_structure(protein)
    if fmt == "pdb":
        _check_pdb_range(path, protein.positions)
        text = _pdb_text(path, structure)
    else:
        text = _cif_text(structure)
    write_text(path, text)


def write_trajectory(path: str | os.PathLike, traj: Trajectory) -> None:
    """Write a ``Protein`` trajectory as multi-model PDB, one MODEL per frame after a TIME_PS remark."""
    if protein_format(path) != "pdb":
        raise InputError(path, "trajectories are written as PDB (.pdb or .pdb.gz)")
    if not isinstance(traj.topology, Protein):
        raise TypeError("write_trajectory needs a Protein topology; write molecule frames with write_molecules")
    _check_pdb_range(path, traj.frames)
    lines = _pdb_text(path, protein_to_structure(traj.topology), write_end=False).splitlines(keepends=True)
    atom_rows = [(k, int(line[6:11]) - 1) for k, line in enumerate(lines) if line[:6] in ATOM_RECORDS]
    with atomic_output(path) as handle:
        for index, (frame, time) in enumerate(zip(traj.frames, traj.times), 1):
            model = list(lines)
            for k, atom in atom_rows:
                x, y, z = frame[atom]
                model[k] = f"{lines[k][:30]}{x:8.3f}{y:8.3f}{z:8.3f}{lines[k][54:]}"
            header = f"REMARK   1 TIME_PS {float(time)!r}\nMODEL     {index:4d}\n"
            handle.write((header + "".join(model) + "ENDMDL\n").encode("utf-8"))
        handle.write(b"END\n")
