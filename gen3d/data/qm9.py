"""QM9 from the ``qm9pack`` package: parsing, caching and the EDM split.

``qm9pack`` ships QM9 as CSV files but its module imports ``pkg_resources``, which current
setuptools no longer provides, so the files are located through the import system without
importing the module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gen3d.io.atomic import atomic_write_bytes

ELEMENTS = ("H", "C", "N", "O", "F")
SYMBOL_TO_Z = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
NUM_MOLECULES = 130_831
SPLIT_SIZES = {"train": 100_000, "valid": 17_748, "test": 13_083}
CACHE_VERSION = 1


class QM9NotFound(RuntimeError):
    """Raised when the ``qm9pack`` data files are not installed."""


def qm9pack_data_dir() -> Path:
    """Folder of the CSV files inside the installed ``qm9pack`` distribution."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise QM9NotFound("the 'qm9pack' package is not installed (pip install qm9pack)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not (folder / "qm9_part1.csv").exists():
        raise QM9NotFound(f"qm9pack is installed but its data files are missing in {folder.name}/")
    return folder


def cache_dir() -> Path:
    """Where parsed datasets are cached (``$GEN3D_CACHE`` or ``~/.cache/gen3d``)."""
    root = os.environ.get("GEN3D_CACHE") or Path.home() / ".cache" / "gen3d"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class QM9:
    """All QM9 molecules as flat arrays (atoms of molecule i are ``ptr[i]:ptr[i+1]``)."""

    numbers: np.ndarray  # (A,) uint8 atomic numbers
    positions: np.ndarray  # (A, 3) float32, Å
    ptr: np.ndarray  # (M+1,) int64
    index: np.ndarray  # (M,) int64 QM9 index (gdb id)
    smiles: np.ndarray  # (M,) str, the QM9 (GDB) SMILES
    split: dict[str, np.ndarray]  # name -> molecule rows

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def molecule(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Atomic numbers and positions of molecule row ``i``."""
        a, b = self.ptr[i], self.ptr[i + 1]
        return self.numbers[a:b], self.positions[a:b]


def edm_split(num: int = NUM_MOLECULES) -> dict[str, np.ndarray]:
    """EDM split: a seed-0 permutation into 100,000 train / 17,748 valid / 13,083 test."""
    perm = np.random.RandomState(0).permutation(num)
    n_train, n_valid = SPLIT_SIZES["train"], SPLIT_SIZES["valid"]
    return {
        "train": np.sort(perm[:n_train]),
        "valid": np.sort(perm[n_train : n_train + n_valid]),
        "test": np.sort(perm[n_train + n_valid :]),
    }


def _parse_csvs(folder: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    cols = ["Index", "SMILES", "Elements", "XYZ_Ang"]
    parts = [pd.read_csv(folder / f"qm9_part{k}.csv", usecols=cols) for k in (1, 2, 3)]
    df = pd.concat(parts, ignore_index=True).sort_values("Index", kind="stable")
    symbols = [json.loads(s.replace("'", '"')) for s in df["Elements"]]
    flat = ",".join(df["XYZ_Ang"]).replace("[", "").replace("]", "")
    coords = [np.asarray(flat.split(","), dtype=np.float64).astype(np.float32)]
    counts = np.fromiter((len(s) for s in symbols), dtype=np.int64, count=len(symbols))
    numbers = np.fromiter((SYMBOL_TO_Z[a] for s in symbols for a in s), dtype=np.uint8)
    return {
        "numbers": numbers,
        "positions": np.concatenate(coords).reshape(-1, 3),
        "ptr": np.concatenate([[0], np.cumsum(counts)]),
        "index": df["Index"].to_numpy(np.int64),
        "smiles": df["SMILES"].to_numpy(str),
    }


def _cache_key(folder: Path) -> str:
    stamp = [f"v{CACHE_VERSION}"]
    for k in (1, 2, 3):
        st = (folder / f"qm9_part{k}.csv").stat()
        stamp.append(f"{st.st_size}")
    return hashlib.sha256("-".join(stamp).encode()).hexdigest()[:16]


def load_qm9() -> QM9:
    """Load QM9 (parsing the package CSVs once, then from an ``.npz`` cache in seconds)."""
    folder = qm9pack_data_dir()
    path = cache_dir() / f"qm9-{_cache_key(folder)}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        arrays = _parse_csvs(folder)
        import io

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
    if len(arrays["ptr"]) - 1 != NUM_MOLECULES:
        raise QM9NotFound(f"expected {NUM_MOLECULES} QM9 molecules, found {len(arrays['ptr']) - 1}")
    return QM9(**arrays, split=edm_split(len(arrays["ptr"]) - 1))
