"""Free-energy plots, model beside reference: phi/psi for peptides, TIC1/TIC2 and 1-D observables for proteins."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gen3d.metrics.protein_plots import _figure, _save

KT_300 = 0.596  # kcal/mol at 300 K


def _free_energy(ax, xy: np.ndarray, ranges, bins: int, title: str, labels: tuple[str, str]) -> None:
    h, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=ranges, density=True)
    with np.errstate(divide="ignore"):
        f = -KT_300 * np.log(h.T)
    f -= np.nanmin(f[np.isfinite(f)])
    mesh = ax.pcolormesh(xe, ye, np.where(np.isfinite(f), f, np.nan), cmap="viridis", vmax=6.0)
    ax.set(title=title, xlabel=labels[0], ylabel=labels[1])
    return mesh


def pair_figure(path: Path, model: np.ndarray, reference: np.ndarray, ranges, bins: int, labels: tuple[str, str], name: str) -> Path:
    """Two free-energy panels (kcal/mol at 300 K) on the same grid."""
    fig = _figure(9.0, 4.2)
    axes = fig.subplots(1, 2)
    mesh = None
    for ax, data, title in ((axes[0], model, f"model ({len(model)} frames)"), (axes[1], reference, f"reference ({len(reference)} frames)")):
        mesh = _free_energy(ax, data, ranges, bins, f"{name}: {title}", labels)
    fig.colorbar(mesh, ax=axes, label="free energy (kcal/mol)")
    return _save(fig, path)


def overlay_figure(path: Path, model: np.ndarray, reference: np.ndarray, label: str) -> Path:
    """Histogram of a 1-D observable, model over reference."""
    fig = _figure(5.0, 3.6)
    ax = fig.subplots()
    lo, hi = min(model.min(), reference.min()), max(model.max(), reference.max())
    for data, name in ((reference, "reference"), (model, "model")):
        ax.hist(data, bins=50, range=(lo, hi), density=True, histtype="step", lw=1.5, label=name)
    ax.set(xlabel=label, ylabel="density")
    ax.legend()
    return _save(fig, path)


def dynamics_figures(series: dict, out_dir: Path) -> list[Path]:
    """Every figure for the series that ``evaluate_dynamics`` returned."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for key, (model, reference) in series.items():
        if key.startswith("phi_psi"):
            ranges = [(-180, 180), (-180, 180)]
            written.append(pair_figure(out_dir / f"{key}.png", model, reference, ranges, 36, ("phi (degrees)", "psi (degrees)"), key))
        elif key == "tica":
            from gen3d.metrics.dynamics_distributions import histogram_ranges

            written.append(pair_figure(out_dir / "tica.png", model, reference, histogram_ranges(reference), 40, ("TIC1", "TIC2"), "TICA"))
        else:
            units = {"rmsd": "Cα RMSD to native (Å)", "rg": "radius of gyration (Å)", "q": "fraction of native contacts"}
            written.append(overlay_figure(out_dir / f"{key}.png", model, reference, units.get(key, key)))
    return written
