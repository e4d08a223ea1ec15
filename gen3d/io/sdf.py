"""SDF / MOL files through RDKit: unsanitized reads that still name the bad record, deterministic writes."""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterable
from typing import NoReturn

from rdkit import Chem, rdBase

from gen3d.io.errors import InputError, read_text, write_text
from gen3d.structures.molecule import Molecule
from gen3d.structures.rdkit import atomic_number, molecule_from_rdkit, molecule_to_rdkit

RECORD_END = "$$$$"


# ----------------------------------------------------------------------------------------------- reading


def split_records(text: str) -> list[tuple[int, list[str]]]:
    """``(first line number, lines)`` of every record of an SD file; a last record may lack ``$$$$``."""
    records: list[tuple[int, list[str]]] = []
    start, current = 1, []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the piece after the final newline is no line
    for number, line in enumerate(lines, 1):
        if line.rstrip() == RECORD_END:
            records.append((start, current))
            start, current = number + 1, []
        else:
            current.append(line)
    if any(line.strip() for line in current):
        records.append((start, current))
    return records


def _check_v2000(lines: list[str], start: int, index: int, path: str | os.PathLike) -> None:
    """Check a V2000 connection table line by line, so errors name the line RDKit would only hint at."""

    def fail(reason: str, offset: int) -> NoReturn:
        raise InputError(path, f"record {index}: {reason}", start + offset)

    if len(lines) < 4:
        fail("truncated record (ends before its counts line)", 3)
    counts = lines[3]
    if "V3000" in counts:
        return  # left to RDKit
    try:
        n_atoms, n_bonds = int(counts[0:3]), int(counts[3:6])
    except ValueError:
        fail(f"bad counts line {counts.strip()[:40]!r}", 3)
    for k in range(n_atoms):
        offset = 4 + k
        if offset >= len(lines):
            fail(f"truncated record (ends after {k} of {n_atoms} atom lines)", offset)
        line = lines[offset]
        if len(line) < 34:
            fail(f"truncated atom line {line.strip()[:40]!r}", offset)
        for column in (line[0:10], line[10:20], line[20:30]):
            try:
                value = float(column)
            except ValueError:
                fail(f"non-numeric coordinate {column.strip()!r}", offset)
            if not math.isfinite(value):
                fail(f"non-finite coordinate {column.strip()!r}", offset)
        symbol = line[31:34].strip()
        try:
            atomic_number(symbol)
        except KeyError:
            fail(f"unknown element {symbol!r}", offset)
    for k in range(n_bonds):
        offset = 4 + n_atoms + k
        if offset >= len(lines):
            fail(f"truncated record (ends after {k} of {n_bonds} bond lines)", offset)
        line = lines[offset]
        try:
            i, j, order = int(line[0:3]), int(line[3:6]), int(line[6:9])
        except ValueError:
            fail(f"bad bond line {line.strip()[:40]!r}", offset)
        if not (1 <= i <= n_atoms and 1 <= j <= n_atoms):
            fail(f"bond joins atoms {i} and {j} but the record has {n_atoms} atoms", offset)
        if not 1 <= order <= 8:
            fail(f"unknown bond type {order}", offset)
    end = 4 + n_atoms + n_bonds
    if not any(line.startswith("M  END") for line in lines[end:]):
        fail("truncated record (no 'M  END' line after the bond block)", end)


def _rdkit_error(messages: str) -> str:
    """The first ``ERROR:`` line RDKit logged, without its timestamp."""
    for line in messages.splitlines():
        _, sep, rest = line.partition("ERROR: ")
        if sep and "moving to the beginning" not in rest:
            return rest.strip()
    return ""


def _rdkit_parse(block: str) -> tuple[Chem.Mol | None, str]:
    """One SD record through ``ForwardSDMolSupplier`` (unsanitized, hydrogens kept), quietly; (mol, error)."""
    supplier_input = io.BytesIO((block + "\n" + RECORD_END + "\n").encode("utf-8"))
    capture = getattr(rdBase, "CaptureErrorLog", None)  # RDKit >= 2025; older versions only block the log
    with rdBase.BlockLogs():
        if capture is None:
            supplier = Chem.ForwardSDMolSupplier(supplier_input, removeHs=False, sanitize=False)
            return next(iter(supplier), None), ""
        with capture() as log:
            supplier = Chem.ForwardSDMolSupplier(supplier_input, removeHs=False, sanitize=False)
            m = next(iter(supplier), None)
    return m, _rdkit_error(log.messages) if m is None else ""


def parse_sdf(text: str, path: str | os.PathLike = "<string>") -> list[Molecule]:
    """Every record of SD ``text`` as a ``Molecule`` (title -> name, SD tags -> properties, typed where exact)."""
    mols = []
    for index, (start, lines) in enumerate(split_records(text), 1):
        _check_v2000(lines, start, index, path)
        m, error = _rdkit_parse("\n".join(lines))
        if m is None:
            error = re.sub(r"line (\d+)", lambda found: f"line {start + int(found.group(1)) - 1}", error)
            raise InputError(path, f"record {index}: RDKit cannot parse it ({error or 'no reason given'})", start)
        try:
            mol = molecule_from_rdkit(m)
        except ValueError as err:
            raise InputError(path, f"record {index}: {err}", start) from None
        mols.append(mol)
    if not mols:
        raise InputError(path, "no SD records")
    return mols


def read_sdf(path: str | os.PathLike) -> list[Molecule]:
    """Every record of a (optionally gzipped) SDF or MOL file, unsanitized so odd valences still load."""
    return parse_sdf(read_text(path), path)


# ----------------------------------------------------------------------------------------------- writing


def format_mol_block(mol: Molecule) -> str:
    """The MOL block of ``mol``: name as title, 3D coordinates, bonds (aromatic as 4) and charges."""
    m = molecule_to_rdkit(mol)
    m.SetProp("_Name", " ".join(mol.name.splitlines()))
    return Chem.MolToMolBlock(m, includeStereo=False, kekulize=False)


def _format_tag(key: object, value: object) -> str:
    """One SD data item; blank lines inside the value are dropped (they would end it early)."""
    key = str(key)
    if not key.strip() or any(c in key for c in "<>\n"):
        raise ValueError(f"SD tag name {key!r} must be non-empty and free of '<', '>' and newlines")
    lines = str(value).split("\n")
    if len(lines) > 1:
        lines = [line for line in lines if line.strip()]
    if any(line.startswith(RECORD_END) for line in lines):
        raise ValueError(f"SD tag {key!r}: a value line may not start with '$$$$'")
    return f">  <{key}>\n" + "\n".join(lines) + "\n\n"


def format_sdf(mol: Molecule) -> str:
    """One SD record: MOL block, ``Molecule.properties`` as tags (in dict order), ``$$$$``."""
    tags = "".join(_format_tag(k, v) for k, v in mol.properties.items())
    return format_mol_block(mol) + tags + RECORD_END + "\n"


def write_sdf(path: str | os.PathLike, mols: Iterable[Molecule]) -> None:
    """Write ``mols`` as one SD file, atomically and byte-deterministically (gzipped for ``.gz``)."""
    write_text(path, "".join(format_sdf(m) for m in mols))
