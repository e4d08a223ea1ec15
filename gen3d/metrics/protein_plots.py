"""Figures for protein evaluation: Ramachandran plots and radius of gyration against length, as PNG files.

Figures are drawn on matplotlib's Agg canvas without pyplot (no global state, no display) and
written atomically, so a failed or interrupted run never leaves half a PNG behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gen3d.io.atomic import atomic_open
from gen3d.io.errors import InputError
from gen3d.metrics.protein_geometry import RG_EXPONENT, RG_PREFACTOR, backbone, expected_rg, radius_of_gyration
from gen3d.metrics.protein_ramachandran import ALLOWED, FAVOURED, ramachandran
from gen3d.structures.protein import Protein

RAMACHANDRAN_PNG = "ramachandran.png"
RG_PNG = "radius_of_gyration.png"


def _figure(width: float, height: float):
    """A matplotlib Figure on an Agg canvas (no pyplot, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png")
    return path


def _regions(ax) -> None:
    """Shade the general-case allowed and favoured Ramachandran regions."""
    from matplotlib.patches import Rectangle

    for boxes, colour in ((ALLOWED["general"], "#dbe9f6"), (FAVOURED["general"], "#a9cbe8")):
        for phi0, phi1, psi0, psi1 in boxes:
            ax.add_patch(Rectangle((phi0, psi0), phi1 - phi0, psi1 - psi0, color=colour, lw=0, zorder=0))


def _ramachandran_panel(ax, phi: np.ndarray, psi: np.ndarray, title: str) -> None:
    _regions(ax)
    if len(phi) > 5000:  # a 2D histogram reads better than overlapping points
        ax.hist2d(phi, psi, bins=90, range=[[-180, 180], [-180, 180]], cmin=1, cmap="inferno_r", zorder=1)
    else:
        ax.scatter(phi, psi, s=3, c="k", alpha=0.6, lw=0, zorder=1)
    ax.set(xlim=(-180, 180), ylim=(-180, 180), xticks=range(-180, 181, 60), yticks=range(-180, 181, 60),
           xlabel="phi (degrees)", ylabel="psi (degrees)", title=f"{title} ({len(phi)} residues)", aspect="equal")


def ramachandran_figure(
    phi_psi: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Ramachandran plot of the evaluated residues, next to a reference set's if given (general regions shaded)."""
    panels = [("evaluated", phi_psi)] + ([("reference", reference)] if reference is not None else [])
    fig = _figure(5.0 * len(panels), 5.0)
    for k, (title, (phi, psi)) in enumerate(panels):
        _ramachandran_panel(fig.add_subplot(1, len(panels), k + 1), np.asarray(phi), np.asarray(psi), title)
    fig.suptitle("shaded: favoured (dark) and allowed (light) regions of non-Gly, non-Pro residues", fontsize=9)
    return fig


def rg_figure(
    lengths_rg: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Radius of gyration (CA, Å) against length, with the globular power law Rg = 2.2 L^0.38 Å."""
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    lengths = [np.asarray(lengths_rg[0])] + ([np.asarray(reference[0])] if reference is not None else [])
    top = max([int(x.max()) for x in lengths if len(x)] + [10])
    grid = np.linspace(1, top * 1.05, 200)
    ax.plot(grid, expected_rg(grid), color="0.4", lw=1.5, label=f"{RG_PREFACTOR} $L^{{{RG_EXPONENT}}}$ Å")
    if reference is not None:
        ax.scatter(*reference, s=12, color="tab:blue", alpha=0.6, label="reference")
    ax.scatter(*lengths_rg, s=12, color="tab:red", alpha=0.7, label="evaluated")
    ax.set(xlabel="length (residues)", ylabel="radius of gyration, CA (Å)", xlim=(0, top * 1.05))
    ax.legend()
    return fig


def _phi_psi(proteins: Sequence[Protein]) -> tuple[np.ndarray, np.ndarray]:
    found = [ramachandran(backbone(p)) for p in proteins]
    return (np.concatenate([r["phi"] for r in found]) if found else np.zeros(0),
            np.concatenate([r["psi"] for r in found]) if found else np.zeros(0))


def _lengths_rg(proteins: Sequence[Protein]) -> tuple[np.ndarray, np.ndarray]:
    bbs = [backbone(p) for p in proteins]
    return np.array([len(b) for b in bbs]), np.array([radius_of_gyration(b) for b in bbs])


def write_plots(
    folder: str | os.PathLike, proteins: Sequence[Protein], reference: Sequence[Protein] | None = None,
) -> list[Path]:
    """Write ``ramachandran.png`` and ``radius_of_gyration.png`` into ``folder`` (created); returns their paths."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "is a file, not a folder for plots")
    ref_angles = _phi_psi(reference) if reference else None
    ref_rg = _lengths_rg(reference) if reference else None
    return [
        _save(ramachandran_figure(_phi_psi(proteins), ref_angles), folder / RAMACHANDRAN_PNG),
        _save(rg_figure(_lengths_rg(proteins), ref_rg), folder / RG_PNG),
    ]
