"""``InputError`` and the guarded, gzip-aware text read/write that every reader and writer shares."""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gen3d.io.atomic import atomic_open

GZIP_MAGIC = b"\x1f\x8b"


class InputError(ValueError):
    """A bad file (or file option); the message is one line naming the file and, where known, the line.

    ``InputError(path, reason, line)`` formats ``"path, line N: reason"``; ``InputError(message)``
    keeps a ready message (for options that name no file).
    """

    def __init__(self, path: str | os.PathLike, reason: str | None = None, line: int | None = None) -> None:
        if reason is None:
            self.path, self.reason, self.line = None, _one_line(str(path)), line
            super().__init__(self.reason)
            return
        self.path = os.fspath(path)
        self.reason = _one_line(reason)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {self.reason}")


def _one_line(text: str) -> str:
    """``text`` with its lines joined by spaces (library messages can span several lines)."""
    parts = (part.strip() for part in str(text).splitlines())
    return " ".join(part for part in parts if part)


def parse_coordinate(token: str, path: str | os.PathLike, line: int) -> float:
    """A finite float, or an ``InputError`` naming the file and line (shared by every reader)."""
    try:
        value = float(token)
    except ValueError:
        raise InputError(path, f"non-numeric coordinate {token.strip()!r}", line) from None
    if not math.isfinite(value):
        raise InputError(path, f"non-finite coordinate {token.strip()!r}", line)
    return value


def is_gzip_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a gzip-compressed file (ends in ``.gz``)."""
    return os.fspath(path).lower().endswith(".gz")


def base_suffix(path: str | os.PathLike) -> str:
    """The format suffix of ``path`` in lower case, looking through a trailing ``.gz`` (``a.sdf.gz`` -> ``.sdf``)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file (gunzipped if compressed) with ``\\n`` line ends, or raise ``InputError``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except OSError as err:
        raise InputError(path, f"cannot read file ({err.strerror or err})") from None
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(path, f"corrupt gzip data ({err})") from None
    elif is_gzip_path(path) and data:
        raise InputError(path, "not gzip-compressed although the name ends in .gz")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(path, "not UTF-8 text (a binary file?)", line) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(path, "contains NUL bytes (a binary file?)", line)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(path, "file is empty")
    return text


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary handle whose bytes (gzipped for ``.gz``, byte-deterministic) replace ``path`` only on success."""
    with atomic_open(path, "wb") as raw:
        if is_gzip_path(path):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
                yield zipped  # type: ignore[misc]
        else:
            yield raw  # type: ignore[misc]


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically, gzip-compressed when the name ends in ``.gz``."""
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))
